//go:build cgo

package dds

/*
#cgo LDFLAGS: -lddsc
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "dds/dds.h"
#include "dds/ddsi/ddsi_sertype.h"
#include "dds/ddsi/ddsi_serdata.h"
#include "dds/ddsi/q_radmin.h"

// A raw sample: the serialized payload with its 4-byte encapsulation header.
struct sint_rawsample { uint32_t size; unsigned char *data; };

// A raw serdata holds the payload, padded with zeros to a multiple of 4.
struct sint_rawsd { struct ddsi_serdata c; uint32_t size; unsigned char *data; };

static uint32_t sint_align4(uint32_t n) { return (n + 3u) & ~3u; }

static struct sint_rawsd *sint_sd_new(const struct ddsi_sertype *tp, enum ddsi_serdata_kind kind, uint32_t size) {
  struct sint_rawsd *d = calloc(1, sizeof(*d));
  if (d == NULL) return NULL;
  ddsi_serdata_init(&d->c, tp, kind);
  d->c.hash = tp->serdata_basehash;
  d->size = size;
  d->data = calloc(1, sint_align4(size) + 4);
  if (d->data == NULL) { free(d); return NULL; }
  return d;
}

static bool sint_sd_eqkey(const struct ddsi_serdata *a, const struct ddsi_serdata *b) { (void)a; (void)b; return true; }
static uint32_t sint_sd_size(const struct ddsi_serdata *d) { return ((const struct sint_rawsd *)d)->size; }

static struct ddsi_serdata *sint_sd_from_ser(const struct ddsi_sertype *tp, enum ddsi_serdata_kind kind, const struct nn_rdata *frag, size_t size) {
  if (size > 0xffffffffu) return NULL;
  struct sint_rawsd *d = sint_sd_new(tp, kind, (uint32_t)size);
  if (d == NULL) return NULL;
  uint32_t off = 0;
  while (frag != NULL) {
    if (frag->maxp1 > off) {
      const unsigned char *payload = NN_RMSG_PAYLOADOFF(frag->rmsg, NN_RDATA_PAYLOAD_OFF(frag));
      uint32_t n = frag->maxp1 - off;
      if ((size_t)off + n > size) n = (uint32_t)size - off;
      memcpy(d->data + off, payload + off - frag->min, n);
      off += n;
    }
    frag = frag->nextfrag;
  }
  return &d->c;
}

static struct ddsi_serdata *sint_sd_from_ser_iov(const struct ddsi_sertype *tp, enum ddsi_serdata_kind kind, ddsrt_msg_iovlen_t niov, const ddsrt_iovec_t *iov, size_t size) {
  if (size > 0xffffffffu) return NULL;
  struct sint_rawsd *d = sint_sd_new(tp, kind, (uint32_t)size);
  if (d == NULL) return NULL;
  size_t off = 0;
  for (ddsrt_msg_iovlen_t i = 0; i < niov && off < size; i++) {
    size_t n = iov[i].iov_len;
    if (off + n > size) n = size - off;
    memcpy(d->data + off, iov[i].iov_base, n);
    off += n;
  }
  return &d->c;
}

static struct ddsi_serdata *sint_sd_from_keyhash(const struct ddsi_sertype *tp, const struct ddsi_keyhash *kh) {
  (void)kh;
  struct sint_rawsd *d = sint_sd_new(tp, SDK_KEY, 0);
  return d ? &d->c : NULL;
}

static struct ddsi_serdata *sint_sd_from_sample(const struct ddsi_sertype *tp, enum ddsi_serdata_kind kind, const void *sample) {
  const struct sint_rawsample *s = sample;
  struct sint_rawsd *d = sint_sd_new(tp, kind, kind == SDK_DATA ? s->size : 0);
  if (d == NULL) return NULL;
  if (kind == SDK_DATA && s->size > 0) memcpy(d->data, s->data, s->size);
  return &d->c;
}

static void sint_sd_to_ser(const struct ddsi_serdata *dc, size_t off, size_t sz, void *buf) {
  const struct sint_rawsd *d = (const struct sint_rawsd *)dc;
  size_t cap = sint_align4(d->size);
  if (off >= cap) return;
  if (off + sz > cap) sz = cap - off;
  memcpy(buf, d->data + off, sz);
}

static struct ddsi_serdata *sint_sd_to_ser_ref(const struct ddsi_serdata *dc, size_t off, size_t sz, ddsrt_iovec_t *ref) {
  const struct sint_rawsd *d = (const struct sint_rawsd *)dc;
  ref->iov_base = d->data + off;
  ref->iov_len = (ddsrt_iov_len_t)sz;
  return ddsi_serdata_ref(dc);
}

static void sint_sd_to_ser_unref(struct ddsi_serdata *d, const ddsrt_iovec_t *ref) { (void)ref; ddsi_serdata_unref(d); }

static bool sint_sd_to_sample(const struct ddsi_serdata *dc, void *sample, void **bufptr, void *buflim) {
  (void)bufptr; (void)buflim;
  const struct sint_rawsd *d = (const struct sint_rawsd *)dc;
  struct sint_rawsample *s = sample;
  free(s->data);
  s->data = malloc(d->size ? d->size : 1);
  if (s->data == NULL) { s->size = 0; return false; }
  memcpy(s->data, d->data, d->size);
  s->size = d->size;
  return true;
}

static struct ddsi_serdata *sint_sd_to_untyped(const struct ddsi_serdata *dc) {
  struct sint_rawsd *d = sint_sd_new(dc->type, SDK_KEY, 0);
  if (d == NULL) return NULL;
  d->c.type = NULL;
  return &d->c;
}

static bool sint_sd_untyped_to_sample(const struct ddsi_sertype *tp, const struct ddsi_serdata *d, void *sample, void **bufptr, void *buflim) {
  (void)tp; (void)d; (void)bufptr; (void)buflim;
  struct sint_rawsample *s = sample;
  free(s->data);
  s->data = NULL;
  s->size = 0;
  return true;
}

static void sint_sd_free(struct ddsi_serdata *dc) {
  struct sint_rawsd *d = (struct sint_rawsd *)dc;
  free(d->data);
  free(d);
}

static size_t sint_sd_print(const struct ddsi_sertype *tp, const struct ddsi_serdata *dc, char *buf, size_t bufsize) {
  (void)tp;
  return (size_t)snprintf(buf, bufsize, "raw(%u bytes)", ((const struct sint_rawsd *)dc)->size);
}

static void sint_sd_get_keyhash(const struct ddsi_serdata *d, struct ddsi_keyhash *buf, bool force_md5) {
  (void)d; (void)force_md5;
  memset(buf, 0, sizeof(*buf));
}

static const struct ddsi_serdata_ops sint_serdata_ops = {
  .eqkey = sint_sd_eqkey,
  .get_size = sint_sd_size,
  .from_ser = sint_sd_from_ser,
  .from_ser_iov = sint_sd_from_ser_iov,
  .from_keyhash = sint_sd_from_keyhash,
  .from_sample = sint_sd_from_sample,
  .to_ser = sint_sd_to_ser,
  .to_ser_ref = sint_sd_to_ser_ref,
  .to_ser_unref = sint_sd_to_ser_unref,
  .to_sample = sint_sd_to_sample,
  .to_untyped = sint_sd_to_untyped,
  .untyped_to_sample = sint_sd_untyped_to_sample,
  .free = sint_sd_free,
  .print = sint_sd_print,
  .get_keyhash = sint_sd_get_keyhash,
};

static void sint_st_free(struct ddsi_sertype *tp) { ddsi_sertype_fini(tp); free(tp); }

static void sint_st_zero_samples(const struct ddsi_sertype *tp, void *samples, size_t count) {
  (void)tp;
  memset(samples, 0, count * sizeof(struct sint_rawsample));
}

static void sint_st_realloc_samples(void **ptrs, const struct ddsi_sertype *tp, void *old, size_t oldcount, size_t count) {
  (void)tp;
  struct sint_rawsample *s = realloc(old, (count ? count : 1) * sizeof(*s));
  if (s != NULL && count > oldcount) memset(s + oldcount, 0, (count - oldcount) * sizeof(*s));
  for (size_t i = 0; i < count; i++) ptrs[i] = s ? &s[i] : NULL;
}

static void sint_st_free_samples(const struct ddsi_sertype *tp, void **ptrs, size_t count, dds_free_op_t op) {
  (void)tp;
  if (count == 0 || ptrs[0] == NULL) return;
  if (op & DDS_FREE_CONTENTS_BIT) {
    for (size_t i = 0; i < count; i++) {
      struct sint_rawsample *s = ptrs[i];
      free(s->data);
      s->data = NULL;
      s->size = 0;
    }
  }
  if (op & DDS_FREE_ALL_BIT) free(ptrs[0]);
}

static bool sint_st_equal(const struct ddsi_sertype *a, const struct ddsi_sertype *b) { (void)a; (void)b; return true; }
static uint32_t sint_st_hash(const struct ddsi_sertype *tp) { (void)tp; return 0x5147u; }

static size_t sint_st_get_serialized_size(const struct ddsi_sertype *tp, const void *sample) {
  (void)tp;
  return ((const struct sint_rawsample *)sample)->size;
}

static bool sint_st_serialize_into(const struct ddsi_sertype *tp, const void *sample, void *dst, size_t dst_size) {
  (void)tp;
  const struct sint_rawsample *s = sample;
  if (dst_size < s->size) return false;
  memcpy(dst, s->data, s->size);
  return true;
}

static const struct ddsi_sertype_ops sint_sertype_ops = {
  .version = ddsi_sertype_v0,
  .arg = NULL,
  .free = sint_st_free,
  .zero_samples = sint_st_zero_samples,
  .realloc_samples = sint_st_realloc_samples,
  .free_samples = sint_st_free_samples,
  .equal = sint_st_equal,
  .hash = sint_st_hash,
  .get_serialized_size = sint_st_get_serialized_size,
  .serialize_into = sint_st_serialize_into,
};

// sint_topic creates (or finds) a keyless topic of the raw sertype named
// type_name.
static dds_entity_t sint_topic(dds_entity_t pp, const char *name, const char *type_name, const struct ddsi_sertype **out) {
  struct ddsi_sertype *st = calloc(1, sizeof(*st));
  if (st == NULL) return DDS_RETCODE_OUT_OF_RESOURCES;
  ddsi_sertype_init_flags(st, type_name, &sint_sertype_ops, &sint_serdata_ops, DDSI_SERTYPE_FLAG_TOPICKIND_NO_KEY);
  st->allowed_data_representation = DDS_DATA_REPRESENTATION_FLAG_XCDR1;
  dds_entity_t tp = dds_create_topic_sertype(pp, name, &st, NULL, NULL, NULL);
  if (tp < 0) { ddsi_sertype_unref(st); return tp; }
  *out = st; // the sertype in use (an equivalent registered one replaces ours)
  return tp;
}

static dds_qos_t *sint_qos(int best_effort, int transient_local, int depth, const unsigned char *ud, size_t udlen) {
  dds_qos_t *q = dds_create_qos();
  dds_qset_reliability(q, best_effort ? DDS_RELIABILITY_BEST_EFFORT : DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
  dds_qset_durability(q, transient_local ? DDS_DURABILITY_TRANSIENT_LOCAL : DDS_DURABILITY_VOLATILE);
  dds_qset_history(q, DDS_HISTORY_KEEP_LAST, depth);
  dds_data_representation_id_t rep = DDS_DATA_REPRESENTATION_XCDR1;
  dds_qset_data_representation(q, 1, &rep);
  if (udlen > 0) dds_qset_userdata(q, ud, udlen); // copied
  return q;
}

// sint_writer and sint_reader create an endpoint; ud (udlen bytes, the
// caller's, not kept) is its USER_DATA.
static dds_entity_t sint_writer(dds_entity_t pp, dds_entity_t tp, int best_effort, int transient_local, int depth, const unsigned char *ud, size_t udlen) {
  dds_qos_t *q = sint_qos(best_effort, transient_local, depth, ud, udlen);
  dds_entity_t w = dds_create_writer(pp, tp, q, NULL);
  dds_delete_qos(q);
  return w;
}

static dds_entity_t sint_reader(dds_entity_t pp, dds_entity_t tp, int best_effort, int transient_local, int depth, const unsigned char *ud, size_t udlen) {
  dds_qos_t *q = sint_qos(best_effort, transient_local, depth, ud, udlen);
  dds_entity_t r = dds_create_reader(pp, tp, q, NULL);
  dds_delete_qos(q);
  return r;
}

// sint_matched fills hs (cap entries) with the handles of the endpoint's
// matched peers (readers of a writer, writers of a reader) and returns how
// many there are (possibly more than cap), < 0 on error.
static dds_return_t sint_matched(dds_entity_t e, int writer, dds_instance_handle_t *hs, size_t cap) {
  return writer ? dds_get_matched_subscriptions(e, hs, cap) : dds_get_matched_publications(e, hs, cap);
}

// sint_peer_userdata copies the USER_DATA of the matched peer ih into a
// buffer the caller frees with dds_free (*out NULL, *sz 0 when it has none);
// < 0 when the peer is gone or on error.
static dds_return_t sint_peer_userdata(dds_entity_t e, int writer, dds_instance_handle_t ih, void **out, size_t *sz) {
  *out = NULL; *sz = 0;
  dds_builtintopic_endpoint_t *ep = writer ? dds_get_matched_subscription_data(e, ih) : dds_get_matched_publication_data(e, ih);
  if (ep == NULL) return DDS_RETCODE_PRECONDITION_NOT_MET;
  if (ep->qos != NULL && !dds_qget_userdata(ep->qos, out, sz)) { *out = NULL; *sz = 0; }
  dds_builtintopic_free_endpoint(ep);
  return 0;
}

static dds_return_t sint_pub_counts(dds_entity_t w, int32_t *total, int32_t *current) {
  dds_publication_matched_status_t st;
  dds_return_t rc = dds_get_publication_matched_status(w, &st);
  *total = (int32_t)st.total_count; *current = (int32_t)st.current_count;
  return rc;
}

static dds_return_t sint_sub_counts(dds_entity_t r, int32_t *total, int32_t *current) {
  dds_subscription_matched_status_t st;
  dds_return_t rc = dds_get_subscription_matched_status(r, &st);
  *total = (int32_t)st.total_count; *current = (int32_t)st.current_count;
  return rc;
}

// sint_write copies n bytes from buf (the caller's, not kept) into a serdata
// and writes it.
static dds_return_t sint_write(dds_entity_t w, const struct ddsi_sertype *st, const unsigned char *buf, uint32_t n) {
  struct sint_rawsd *d = sint_sd_new(st, SDK_DATA, n);
  if (d == NULL) return DDS_RETCODE_OUT_OF_RESOURCES;
  if (n > 0) memcpy(d->data, buf, n);
  d->c.timestamp.v = dds_time();
  return dds_writecdr(w, &d->c);
}

// sint_take takes one sample: 1 and *out (a serdata reference the caller
// releases with sint_release) and *writer (the handle of the writer that
// sent it) when there was a valid one, 0 when none, < 0 on error.
static dds_return_t sint_take(dds_entity_t r, struct ddsi_serdata **out, unsigned char **data, uint32_t *size, dds_instance_handle_t *writer) {
  for (;;) {
    struct ddsi_serdata *sd = NULL;
    dds_sample_info_t info;
    dds_return_t n = dds_takecdr(r, &sd, 1, &info, DDS_ANY_STATE);
    if (n <= 0) return n;
    if (!info.valid_data || sd->kind != SDK_DATA) { ddsi_serdata_unref(sd); continue; }
    struct sint_rawsd *d = (struct sint_rawsd *)sd;
    *out = sd; *data = d->data; *size = d->size; *writer = info.publication_handle;
    return 1;
  }
}

static void sint_release(struct ddsi_serdata *sd) { ddsi_serdata_unref(sd); }

static dds_return_t sint_pub_matched(dds_entity_t w, int32_t *n) {
  dds_publication_matched_status_t st;
  dds_return_t rc = dds_get_publication_matched_status(w, &st);
  *n = (int32_t)st.current_count;
  return rc;
}

static dds_return_t sint_sub_matched(dds_entity_t r, int32_t *n) {
  dds_subscription_matched_status_t st;
  dds_return_t rc = dds_get_subscription_matched_status(r, &st);
  *n = (int32_t)st.current_count;
  return rc;
}

// sint_wait blocks until r has data, the guard triggers or timeout_ns
// passes: > 0 when something triggered.
static dds_return_t sint_wait(dds_entity_t ws, int64_t timeout_ns) {
  dds_attach_t xs[2];
  return dds_waitset_wait(ws, xs, 2, timeout_ns);
}

static dds_entity_t sint_waitset(dds_entity_t pp, dds_entity_t r, dds_entity_t guard) {
  dds_entity_t ws = dds_create_waitset(pp);
  if (ws < 0) return ws;
  dds_entity_t rc = dds_create_readcondition(r, DDS_ANY_STATE);
  if (rc < 0) { dds_delete(ws); return rc; }
  dds_return_t e = dds_waitset_attach(ws, rc, 1);
  if (e == 0) e = dds_waitset_attach(ws, guard, 2);
  if (e < 0) { dds_delete(ws); return e; }
  return ws;
}
*/
import "C"

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unsafe"
)

// Error is a Cyclone DDS return code.
type Error struct {
	Op   string
	Code int
}

func (e *Error) Error() string {
	return fmt.Sprintf("dds: %s: %s (%d)", e.Op, C.GoString(C.dds_strretcode(C.dds_return_t(e.Code))), e.Code)
}

func check(op string, rc C.dds_return_t) error {
	if rc < 0 {
		return &Error{Op: op, Code: int(rc)}
	}
	return nil
}

// loopbackConfig is the Cyclone configuration of Config.LoopbackOnly: the
// loopback interface only, multicast discovery forced on it (Linux delivers
// multicast on lo), as rmw_cyclonedds does for ROS_LOCALHOST_ONLY=1.
const loopbackConfig = `<CycloneDDS><Domain Id="any"><General>` +
	`<Interfaces><NetworkInterface address="127.0.0.1" multicast="true"/></Interfaces>` +
	`<DontRoute>true</DontRoute></General></Domain></CycloneDDS>`

// domains counts this process's participants per domain (Cyclone shares a
// domain between the participants of a process; the first one configures it).
var (
	domainsMu sync.Mutex
	domains   = map[int]*domainRef{}
)

type domainRef struct {
	ent      C.dds_entity_t // explicit domain entity, 0 when implicit
	loopback bool
	n        int
}

// Participant is a DDS domain participant. Its methods are safe for
// concurrent use.
type Participant struct {
	cfg    Config
	ent    C.dds_entity_t
	mu     sync.Mutex
	closed bool
	topics map[[2]string]topic
}

type topic struct {
	ent C.dds_entity_t
	st  *C.struct_ddsi_sertype // C memory, owned by the topic
}

// NewParticipant joins domain cfg.Domain. Participants of one process on
// one domain share its configuration: asking for another LoopbackOnly
// setting than the first participant's is an error.
func NewParticipant(cfg Config) (*Participant, error) {
	if cfg.Domain < 0 || cfg.Domain > MaxDomain {
		return nil, fmt.Errorf("dds: domain %d not in 0..%d", cfg.Domain, MaxDomain)
	}
	domainsMu.Lock()
	defer domainsMu.Unlock()
	ref := domains[cfg.Domain]
	if ref == nil {
		ref = &domainRef{loopback: cfg.LoopbackOnly}
		if cfg.LoopbackOnly {
			xml := C.CString(loopbackConfig)
			d := C.dds_create_domain(C.dds_domainid_t(cfg.Domain), xml)
			C.free(unsafe.Pointer(xml))
			if err := check("create domain", C.dds_return_t(d)); err != nil {
				return nil, err
			}
			ref.ent = d
		}
		domains[cfg.Domain] = ref
	} else if ref.loopback != cfg.LoopbackOnly {
		return nil, fmt.Errorf("dds: domain %d is already joined with loopback-only=%v in this process", cfg.Domain, ref.loopback)
	}
	pp := C.dds_create_participant(C.dds_domainid_t(cfg.Domain), nil, nil)
	if err := check("create participant", C.dds_return_t(pp)); err != nil {
		if ref.n == 0 {
			if ref.ent != 0 {
				C.dds_delete(ref.ent)
			}
			delete(domains, cfg.Domain)
		}
		return nil, err
	}
	ref.n++
	return &Participant{cfg: cfg, ent: pp, topics: map[[2]string]topic{}}, nil
}

// Close deletes the participant and every entity it created.
func (p *Participant) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	err := check("delete participant", C.dds_delete(p.ent))
	domainsMu.Lock()
	defer domainsMu.Unlock()
	if ref := domains[p.cfg.Domain]; ref != nil {
		if ref.n--; ref.n == 0 {
			if ref.ent != 0 {
				C.dds_delete(ref.ent)
			}
			delete(domains, p.cfg.Domain)
		}
	}
	return err
}

// Domain returns the participant's domain id.
func (p *Participant) Domain() int { return p.cfg.Domain }

func (p *Participant) topic(name, typeName string) (topic, error) {
	if name == "" || typeName == "" || len(name) > 256 || len(typeName) > 256 {
		return topic{}, fmt.Errorf("dds: topic %q of type %q: names must be 1..256 bytes", name, typeName)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return topic{}, ErrClosed
	}
	k := [2]string{name, typeName}
	if t, ok := p.topics[k]; ok {
		return t, nil
	}
	cn, ct := C.CString(name), C.CString(typeName)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(ct))
	var st *C.struct_ddsi_sertype
	e := C.sint_topic(p.ent, cn, ct, &st)
	if err := check("create topic "+name, C.dds_return_t(e)); err != nil {
		return topic{}, err
	}
	t := topic{ent: e, st: st}
	p.topics[k] = t
	return t, nil
}

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Writer writes serialized samples on one topic.
type Writer struct {
	p     *Participant
	ent   C.dds_entity_t
	st    *C.struct_ddsi_sertype
	Topic string
	peers peerCache
}

// Writer creates a writer on the DDS topic name (e.g. "rt/cmd_vel") of the
// DDS type typeName with QoS q.
func (p *Participant) Writer(name, typeName string, q QoS) (*Writer, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	t, err := p.topic(name, typeName)
	if err != nil {
		return nil, err
	}
	ud, udn := userData(q.TypeHash)
	w := C.sint_writer(p.ent, t.ent, b2i(q.BestEffort), b2i(q.Durability == TransientLocal), C.int(q.depth()), ud, udn)
	if err := check("create writer "+name, C.dds_return_t(w)); err != nil {
		return nil, err
	}
	return &Writer{p: p, ent: w, st: t.st, Topic: name, peers: peerCache{hash: q.TypeHash}}, nil
}

// Write publishes one sample: data is the full serialized payload (4-byte
// encapsulation header, then the body). C copies it before returning.
func (w *Writer) Write(data []byte) error {
	if len(data) < 4 || len(data) > MaxSampleBytes {
		return fmt.Errorf("dds: write %s: sample of %d bytes (want 4..%d)", w.Topic, len(data), MaxSampleBytes)
	}
	rc := C.sint_write(w.ent, w.st, (*C.uchar)(unsafe.Pointer(&data[0])), C.uint32_t(len(data)))
	return check("write "+w.Topic, rc)
}

// Matched returns the number of matched readers.
func (w *Writer) Matched() (int, error) {
	var n C.int32_t
	if err := check("matched "+w.Topic, C.sint_pub_matched(w.ent, &n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// WaitMatched waits until at least n readers matched, or ctx ends.
func (w *Writer) WaitMatched(ctx context.Context, n int) error {
	return waitCount(ctx, w.Matched, n, w.Topic)
}

// Close deletes the writer.
func (w *Writer) Close() error { return check("delete writer", C.dds_delete(w.ent)) }

// Reader takes serialized samples of one topic.
type Reader struct {
	p     *Participant
	ent   C.dds_entity_t
	guard C.dds_entity_t
	ws    C.dds_entity_t
	Topic string

	mu     sync.Mutex // one Take at a time
	closed chan struct{}
	once   sync.Once
	peers  peerCache
}

// Reader creates a reader on the DDS topic name of the DDS type typeName
// with QoS q.
func (p *Participant) Reader(name, typeName string, q QoS) (*Reader, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	t, err := p.topic(name, typeName)
	if err != nil {
		return nil, err
	}
	ud, udn := userData(q.TypeHash)
	r := C.sint_reader(p.ent, t.ent, b2i(q.BestEffort), b2i(q.Durability == TransientLocal), C.int(q.depth()), ud, udn)
	if err := check("create reader "+name, C.dds_return_t(r)); err != nil {
		return nil, err
	}
	g := C.dds_create_guardcondition(p.ent)
	if err := check("create guard", C.dds_return_t(g)); err != nil {
		C.dds_delete(r)
		return nil, err
	}
	ws := C.sint_waitset(p.ent, r, g)
	if err := check("create waitset", C.dds_return_t(ws)); err != nil {
		C.dds_delete(g)
		C.dds_delete(r)
		return nil, err
	}
	return &Reader{p: p, ent: r, guard: g, ws: ws, Topic: name, closed: make(chan struct{}), peers: peerCache{hash: q.TypeHash}}, nil
}

// takeSlice bounds one wait so that a cancelled ctx is seen soon.
const takeSlice = 100 * time.Millisecond

// Take returns the next sample, waiting until one arrives, ctx ends or the
// reader is closed.
func (r *Reader) Take(ctx context.Context) (Sample, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		select {
		case <-r.closed:
			return Sample{}, ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return Sample{}, err
		}
		var sd *C.struct_ddsi_serdata
		var data *C.uchar
		var size C.uint32_t
		var writer C.dds_instance_handle_t
		n := C.sint_take(r.ent, &sd, &data, &size, &writer)
		if err := check("take "+r.Topic, n); err != nil {
			return Sample{}, err
		}
		if n > 0 {
			s := Sample{At: time.Now(), Writer: uint64(writer)}
			if size > MaxSampleBytes {
				C.sint_release(sd)
				return Sample{}, fmt.Errorf("dds: take %s: sample of %d bytes over %d", r.Topic, size, MaxSampleBytes)
			}
			s.Data = C.GoBytes(unsafe.Pointer(data), C.int(size))
			C.sint_release(sd)
			return s, nil
		}
		slice := takeSlice
		if dl, ok := ctx.Deadline(); ok {
			if d := time.Until(dl); d < slice {
				slice = max(d, 0)
			}
		}
		if err := check("wait "+r.Topic, C.sint_wait(r.ws, C.int64_t(slice.Nanoseconds()))); err != nil {
			return Sample{}, err
		}
	}
}

// Matched returns the number of matched writers.
func (r *Reader) Matched() (int, error) {
	var n C.int32_t
	if err := check("matched "+r.Topic, C.sint_sub_matched(r.ent, &n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// WaitMatched waits until at least n writers matched, or ctx ends.
func (r *Reader) WaitMatched(ctx context.Context, n int) error {
	return waitCount(ctx, r.Matched, n, r.Topic)
}

// Close wakes a blocked Take and deletes the reader.
func (r *Reader) Close() error {
	var err error
	r.once.Do(func() {
		close(r.closed)
		C.dds_set_guardcondition(r.guard, true)
		r.mu.Lock() // the Take in flight returns
		defer r.mu.Unlock()
		C.dds_delete(r.ws)
		C.dds_delete(r.guard)
		err = check("delete reader", C.dds_delete(r.ent))
	})
	return err
}

// userData returns the USER_DATA of an endpoint of type hash h as C
// arguments: a pointer to Go bytes (no Go pointers in them; C copies them
// before returning) and the length; nil, 0 for no hash.
func userData(h string) (*C.uchar, C.size_t) {
	if h == "" {
		return nil, 0
	}
	b := TypeHashUserData(h)
	return (*C.uchar)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// CheckPeers compares the type hashes the matched readers announce with
// the writer's own (QoS.TypeHash), see the package function CheckPeers.
// The answer is kept until a reader matches or unmatches.
func (w *Writer) CheckPeers() (PeerCheck, error) {
	return w.peers.check(w.ent, true, w.Topic)
}

// CheckPeers compares the type hashes the matched writers announce with
// the reader's own (QoS.TypeHash), see the package function CheckPeers.
// The answer is kept until a writer matches or unmatches.
func (r *Reader) CheckPeers() (PeerCheck, error) {
	return r.peers.check(r.ent, false, r.Topic)
}

// peerCache keeps the last PeerCheck of an endpoint, keyed by its matched
// status counts: total_count grows with every new match and current_count
// changes with every unmatch, so equal counts mean the same peers.
type peerCache struct {
	hash string
	mu   sync.Mutex
	ok   bool
	key  [2]int32
	last PeerCheck
}

func (c *peerCache) check(ent C.dds_entity_t, writer bool, topic string) (PeerCheck, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var total, current C.int32_t
	var rc C.dds_return_t
	if writer {
		rc = C.sint_pub_counts(ent, &total, &current)
	} else {
		rc = C.sint_sub_counts(ent, &total, &current)
	}
	if err := check("matched "+topic, rc); err != nil {
		return PeerCheck{}, err
	}
	key := [2]int32{int32(total), int32(current)}
	if c.ok && key == c.key {
		return c.last, nil
	}
	peers, err := matchedPeers(ent, writer, topic)
	if err != nil {
		return PeerCheck{}, err
	}
	c.ok, c.key, c.last = true, key, CheckPeers(c.hash, peers)
	return c.last, nil
}

// maxPeers bounds the matched peers read at once.
const maxPeers = 4096

// matchedPeers returns the endpoint's matched peers with their USER_DATA.
// A peer that unmatches while it is read is left out.
func matchedPeers(ent C.dds_entity_t, writer bool, topic string) ([]Peer, error) {
	hs := make([]C.dds_instance_handle_t, 16)
	for {
		n := C.sint_matched(ent, b2i(writer), &hs[0], C.size_t(len(hs)))
		if err := check("matched peers "+topic, n); err != nil {
			return nil, err
		}
		if int(n) <= len(hs) {
			hs = hs[:n]
			break
		}
		if int(n) > maxPeers {
			return nil, fmt.Errorf("dds: %s: %d matched peers, over %d", topic, n, maxPeers)
		}
		hs = make([]C.dds_instance_handle_t, n)
	}
	peers := make([]Peer, 0, len(hs))
	for _, h := range hs {
		var out unsafe.Pointer
		var sz C.size_t
		if C.sint_peer_userdata(ent, b2i(writer), h, &out, &sz) < 0 {
			continue // gone meanwhile
		}
		p := Peer{Handle: uint64(h)}
		if out != nil {
			if sz > MaxUserDataBytes {
				sz = MaxUserDataBytes + 1 // ParseTypeHash refuses it
			}
			p.UserData = C.GoBytes(out, C.int(sz))
			C.dds_free(out)
		}
		peers = append(peers, p)
	}
	return peers, nil
}

func waitCount(ctx context.Context, get func() (int, error), n int, topic string) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		got, err := get()
		if err != nil {
			return err
		}
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dds: %s: %d of %d matched: %w", topic, got, n, ctx.Err())
		case <-t.C:
		}
	}
}
