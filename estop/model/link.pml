/*
 * Controller relay and heartbeat watchdog (firmware.Controller, link.Session).
 *
 * The gateway publishes its breaker state in frames that the network may
 * drop or delay (a bounded channel with loss). The controller energises the
 * relay only while: the link is up, the last frame said "armed", and the
 * button is released. Its watchdog fires when no frame arrived for a whole
 * timeout period; time is modelled by the Clock process's ticks, which
 * frames reset.
 *
 * Properties:
 *   safety   : the relay is never energised while the button is pressed or
 *              the link is down (Monitor);
 *   liveness : once the gateway is tripped for good (or dead), the relay is
 *              eventually open:  ltl stops { [] (gwDown -> <> !relay) }
 *              (checked with weak fairness: spin -a link.pml; gcc -DNFAIR=3;
 *              ./pan -a -f).
 */
#define TIMEOUT 3   /* ticks without a frame before the watchdog fires */

mtype = { ARMED, TRIPPED };
chan net = [2] of { mtype };

bool gwDown = false;   /* gateway tripped for good, or killed */
bool relay = false;
bool linkUp = false;
bool pressed = false;
mtype lastState = TRIPPED;
byte silent = 0;       /* ticks since the last valid frame */

active proctype Gateway() {
  mtype st = ARMED;
  do
  :: !gwDown -> net!st               /* heartbeat / state frame */
  :: !gwDown -> st = TRIPPED         /* a trip */
  :: !gwDown && st == TRIPPED -> st = ARMED   /* a reset */
  :: !gwDown -> gwDown = true; st = TRIPPED   /* trip for good */
  :: gwDown ->
     if
     :: net!TRIPPED                  /* still alive and says tripped */
     :: skip                         /* or dead: sends nothing */
     fi
  :: nempty(net) -> net?_            /* the network loses a frame */
  od
}

inline drive() {
  relay = linkUp && lastState == ARMED && !pressed
}

/* The button: every change drives the relay at once (Controller.update). */
active proctype Button() {
  do
  :: atomic { pressed = true; drive() }
  :: atomic { pressed = false; drive() }
  od
}

/* Frames from the gateway. */
active proctype Controller() {
  mtype m;
  do
  :: net?m -> atomic { silent = 0; linkUp = true; lastState = m; drive() }
  od
}

/* Time and the watchdog: a tick per step; after TIMEOUT silent ticks the
 * link is down and the relay opens. */
active proctype Clock() {
  do
  :: atomic { silent < TIMEOUT -> silent++ }
  :: atomic { silent >= TIMEOUT -> linkUp = false; lastState = TRIPPED; drive() }
  od
}

/* Safety invariant, checked in every reachable state. */
active proctype Monitor() {
  assert(!(relay && pressed));
  assert(!(relay && !linkUp))
}

ltl stops { [] (gwDown -> <> !relay) }
