/* Example streamgate plugin (docs/plugins.md), in plain C against rules/plugin/streamgate_plugin.h:
 *   dew_point(temp_c, humidity_pct) -> float      scalar, Magnus formula
 *   geomean(x) -> float                            aggregate, geometric mean of positive values
 *   rate_per_minute(x) -> float                    aggregate over event time: (last - first) per
 *                                                  minute between the earliest and latest rows
 * Stateless apart from the aggregate states the host keeps, so any thread may call it.
 * Built by CMake as examples/plugins/libsg_iot_functions.so; tests load it (unit, golden,
 * integration with the real binary). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "streamgate_plugin.h"

/* ---- dew_point ------------------------------------------------------------------------ */

static int dew_point(void* user, const sg_value* args, size_t nargs, sg_value* out) {
  (void)user;
  (void)nargs;
  const double t = args[0].u.d; /* both declared SG_T_DOUBLE: ints arrive widened */
  const double rh = args[1].u.d;
  if (rh <= 0.0 || rh > 100.0) return SG_ERROR; /* NULL, as a built-in does for a bad input */
  const double a = 17.62, b = 243.12;
  const double g = log(rh / 100.0) + a * t / (b + t);
  out->type = SG_DOUBLE;
  out->u.d = b * g / (a - g);
  return SG_OK;
}

/* ---- state encoding: a version byte, then little-endian fields (portable checkpoints) ---- */

static void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= (uint64_t)p[i] << (8 * i);
  return v;
}
static void put_f64(uint8_t* p, double d) {
  uint64_t v;
  memcpy(&v, &d, sizeof v);
  put_u64(p, v);
}
static double get_f64(const uint8_t* p) {
  uint64_t v = get_u64(p);
  double d;
  memcpy(&d, &v, sizeof d);
  return d;
}

/* ---- geomean ---------------------------------------------------------------------------- */

typedef struct {
  int64_t n;
  double log_sum;
} geomean_state;

static void geomean_init(void* s) { memset(s, 0, sizeof(geomean_state)); }

static int geomean_add(void* s, const sg_value* args, size_t nargs) {
  (void)nargs;
  geomean_state* g = (geomean_state*)s;
  if (args[0].u.d <= 0.0) return SG_ERROR; /* only positive values have a geometric mean */
  g->n += 1;
  g->log_sum += log(args[0].u.d);
  return SG_OK;
}

static int geomean_merge(void* into, const void* from) {
  geomean_state* a = (geomean_state*)into;
  const geomean_state* b = (const geomean_state*)from;
  a->n += b->n;
  a->log_sum += b->log_sum;
  return SG_OK;
}

static int geomean_result(const void* s, sg_value* out) {
  const geomean_state* g = (const geomean_state*)s;
  if (g->n == 0) return SG_ERROR; /* NULL over no values */
  out->type = SG_DOUBLE;
  out->u.d = exp(g->log_sum / (double)g->n);
  return SG_OK;
}

static size_t geomean_serialize(const void* s, uint8_t* buf, size_t cap) {
  const geomean_state* g = (const geomean_state*)s;
  if (cap >= 17) {
    buf[0] = 1;
    put_u64(buf + 1, (uint64_t)g->n);
    put_f64(buf + 9, g->log_sum);
  }
  return 17;
}

static int geomean_deserialize(void* s, const uint8_t* buf, size_t size) {
  geomean_state* g = (geomean_state*)s;
  if (size != 17 || buf[0] != 1) return SG_ERROR;
  g->n = (int64_t)get_u64(buf + 1);
  g->log_sum = get_f64(buf + 9);
  return SG_OK;
}

static const sg_aggregate geomean_agg = {
    sizeof(geomean_state), _Alignof(geomean_state), geomean_init, NULL, geomean_add, geomean_merge,
    geomean_result, geomean_serialize, geomean_deserialize, NULL};

/* ---- rate_per_minute -------------------------------------------------------------------- */

typedef struct {
  int64_t n;
  int64_t first_t, last_t; /* event times, epoch ns */
  double first_v, last_v;
} rate_state;

static void rate_init(void* s) { memset(s, 0, sizeof(rate_state)); }

static void rate_take(rate_state* r, int64_t t, double v) {
  if (r->n == 0 || t < r->first_t) {
    r->first_t = t;
    r->first_v = v;
  }
  if (r->n == 0 || t >= r->last_t) {
    r->last_t = t;
    r->last_v = v;
  }
}

static int rate_add(void* s, const sg_value* args, size_t nargs) {
  rate_state* r = (rate_state*)s;
  if (nargs != 2) return SG_ERROR; /* the value, then the event time the host appends */
  rate_take(r, args[1].u.i, args[0].u.d);
  r->n += 1;
  return SG_OK;
}

static int rate_merge(void* into, const void* from) {
  rate_state* a = (rate_state*)into;
  const rate_state* b = (const rate_state*)from;
  if (b->n == 0) return SG_OK;
  if (a->n == 0) {
    *a = *b;
    return SG_OK;
  }
  rate_take(a, b->first_t, b->first_v);
  rate_take(a, b->last_t, b->last_v);
  a->n += b->n;
  return SG_OK;
}

static int rate_result(const void* s, sg_value* out) {
  const rate_state* r = (const rate_state*)s;
  if (r->n < 2 || r->last_t == r->first_t) return SG_ERROR; /* NULL: no time between rows */
  out->type = SG_DOUBLE;
  out->u.d = (r->last_v - r->first_v) / ((double)(r->last_t - r->first_t) / 60e9);
  return SG_OK;
}

static size_t rate_serialize(const void* s, uint8_t* buf, size_t cap) {
  const rate_state* r = (const rate_state*)s;
  if (cap >= 41) {
    buf[0] = 1;
    put_u64(buf + 1, (uint64_t)r->n);
    put_u64(buf + 9, (uint64_t)r->first_t);
    put_u64(buf + 17, (uint64_t)r->last_t);
    put_f64(buf + 25, r->first_v);
    put_f64(buf + 33, r->last_v);
  }
  return 41;
}

static int rate_deserialize(void* s, const uint8_t* buf, size_t size) {
  rate_state* r = (rate_state*)s;
  if (size != 41 || buf[0] != 1) return SG_ERROR;
  r->n = (int64_t)get_u64(buf + 1);
  r->first_t = (int64_t)get_u64(buf + 9);
  r->last_t = (int64_t)get_u64(buf + 17);
  r->first_v = get_f64(buf + 25);
  r->last_v = get_f64(buf + 33);
  return SG_OK;
}

static const sg_aggregate rate_agg = {
    sizeof(rate_state), _Alignof(rate_state), rate_init, NULL, rate_add, rate_merge,
    rate_result, rate_serialize, rate_deserialize, NULL};

/* ---- the descriptor ------------------------------------------------------------------- */

static const uint32_t two_doubles[] = {SG_T_DOUBLE, SG_T_DOUBLE};
static const uint32_t one_double[] = {SG_T_DOUBLE};

static const sg_function functions[] = {
    {"dew_point", SG_SCALAR, 2, 2, two_doubles, SG_T_DOUBLE, SG_FN_DETERMINISTIC,
     "dew_point(temp_c, humidity_pct) -> float",
     "Dew point in degrees Celsius (Magnus formula, Sonntag 1990 constants); NULL unless "
     "0 < humidity_pct <= 100. Example plugin (examples/plugins/iot_functions.c).",
     dew_point, NULL, NULL},
    {"geomean", SG_AGGREGATE, 1, 1, one_double, SG_T_DOUBLE, SG_FN_DETERMINISTIC,
     "geomean(x) -> float",
     "Geometric mean of the positive values (others are skipped); NULL over none. Example "
     "plugin aggregate.",
     NULL, NULL, &geomean_agg},
    {"rate_per_minute", SG_AGGREGATE, 1, 1, one_double, SG_T_DOUBLE,
     SG_FN_DETERMINISTIC | SG_FN_EVENT_TIME, "rate_per_minute(x) -> float",
     "Change of x per minute of event time, from the earliest row to the latest; NULL with "
     "fewer than two distinct times. Example plugin aggregate reading the event time.",
     NULL, NULL, &rate_agg},
};

static const sg_plugin plugin = {SG_PLUGIN_ABI_VERSION, sizeof(sg_plugin), "iot_functions", "1.0",
                                 sizeof functions / sizeof functions[0], functions};

__attribute__((visibility("default"))) const sg_plugin* streamgate_plugin(uint32_t host_abi_version) {
  (void)host_abi_version; /* one descriptor: the host checks abi_version */
  return &plugin;
}
