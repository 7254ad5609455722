/*
 * Breaker ⇄ ledger linearisability (PROTOCOL.md §8, estop.Breaker).
 *
 * The ledger assigns sequence numbers under a lock and runs an allow entry's
 * guard (Breaker.Guard) under that same lock: modelled by one atomic block.
 * Trip flips `tripped` first, then appends its trip entry. Reset appends its
 * reset entry first, then re-arms, and only when no source is latched.
 *
 * Property (assert in the ledger): no allow entry is appended while a trip
 * entry is "open" (appended and not yet followed by a reset entry).
 * With -DBUG the trip entry is appended BEFORE the flip: spin finds the
 * violating interleaving.
 */
#define WORKERS 3
#define MAXSEQ  12

bool tripped = false;
bool latched = false;   /* a held button / lost controller */
bool tripOpen = false;  /* ledger view: trip entry without a later reset entry */
byte seq = 0;
byte epoch = 0;
byte allows = 0;

inline append_allow() {
  atomic {
    if
    :: !tripped ->            /* Guard() under the sequencing lock */
       assert(!tripOpen);     /* THE property */
       seq++; allows++
    :: tripped -> skip        /* denied ESTOP_ENGAGED */
    fi
  }
}

proctype Worker() {
  do
  :: seq < MAXSEQ ->
     /* pipeline stages run without any lock; the breaker may trip here */
     append_allow()
  :: seq >= MAXSEQ -> break
  od
}

proctype Operator() {
  do
  :: seq < MAXSEQ ->
     if
     :: /* Trip */
#ifdef BUG
        atomic { seq++; tripOpen = true };
        atomic { epoch = epoch + (tripped -> 0 : 1); tripped = true }
#else
        atomic { epoch = epoch + (tripped -> 0 : 1); tripped = true };
        atomic { seq++; tripOpen = true }
#endif
     :: /* a latching source trips and later clears */
        atomic { latched = true; epoch = epoch + (tripped -> 0 : 1); tripped = true };
        atomic { seq++; tripOpen = true };
        latched = false
     :: /* Reset: refused while latched; records, then re-arms */
        if
        :: tripped && !latched ->
           atomic { seq++; tripOpen = false };
           tripped = false
        :: !tripped || latched -> skip
        fi
     fi
  :: seq >= MAXSEQ -> break
  od
}

init {
  atomic {
    byte i = 0;
    do
    :: i < WORKERS -> run Worker(); i++
    :: i >= WORKERS -> break
    od;
    run Operator()
  }
}
