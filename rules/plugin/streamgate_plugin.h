/* streamgate plugin ABI: the C interface a shared library in `plugins-dir` implements to add
 * scalar and aggregate SQL functions without rebuilding the daemon (docs/plugins.md).
 *
 * Pure C (C99), no streamgate or C++ type crosses it, so a plugin can be written in C, C++, Rust
 * or Zig and built against this one header. The host calls the library's only required symbol,
 *
 *     const sg_plugin* streamgate_plugin(uint32_t host_abi_version);
 *
 * once when it loads the library. The returned descriptor (and everything it points to) must stay
 * valid while the library is loaded (the host never unloads it). The host refuses the library as a
 * whole, with one line naming the file, when `abi_version` is not SG_PLUGIN_ABI_VERSION, the
 * symbol is missing, a name is taken (built-in or another plugin), or a field is invalid.
 *
 * Threads: functions may be called from several threads at once (one per worker or partition),
 * never for the same aggregate state at once. Keep no mutable global state, or lock it.
 * A plugin runs inside the process: a crash in it takes the whole gateway down. */
#ifndef STREAMGATE_PLUGIN_H
#define STREAMGATE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of the structs below; the host speaks exactly one version. */
#define SG_PLUGIN_ABI_VERSION 1u
/* The name of the entry point, for dlsym. */
#define SG_PLUGIN_ENTRY "streamgate_plugin"

/* Value types (sg_value.type). Arrays and objects travel as compact JSON text (SG_JSON). */
#define SG_NULL 0
#define SG_BOOL 1
#define SG_INT 2    /* int64 */
#define SG_DOUBLE 3
#define SG_TEXT 4   /* UTF-8, not NUL-terminated: use u.text.size */
#define SG_JSON 5   /* an array or object as JSON text */

/* Type masks for declared argument types (sg_function.arg_types) and results. */
#define SG_T_BOOL (1u << SG_BOOL)
#define SG_T_INT (1u << SG_INT)
#define SG_T_DOUBLE (1u << SG_DOUBLE)
#define SG_T_TEXT (1u << SG_TEXT)
#define SG_T_JSON (1u << SG_JSON)
#define SG_T_NUMBER (SG_T_INT | SG_T_DOUBLE)
#define SG_T_ANY (SG_T_BOOL | SG_T_NUMBER | SG_T_TEXT | SG_T_JSON)

/* Most arguments a plugin function takes (variadic ones included). */
#define SG_MAX_ARGS 16

typedef struct sg_value {
  int32_t type; /* SG_NULL ... SG_JSON */
  int32_t reserved; /* 0 */
  union {
    int32_t b; /* SG_BOOL: 0 or 1 */
    int64_t i; /* SG_INT */
    double d;  /* SG_DOUBLE */
    struct {
      const char* data;
      size_t size;
    } text; /* SG_TEXT and SG_JSON */
  } u;
} sg_value;

/* Function kinds (sg_function.kind). */
#define SG_SCALAR 1
#define SG_AGGREGATE 2

/* Flags (sg_function.flags). */
/* Same arguments, same result, no side effects. Only these may be evaluated once over constant
 * arguments when a rule is planned. */
#define SG_FN_DETERMINISTIC (1u << 0)
/* Called even when an argument is NULL (default: a NULL argument gives NULL without a call for
 * scalars, and is skipped by aggregates, as the built-ins do). */
#define SG_FN_CALL_ON_NULL (1u << 1)
/* Aggregates only: the host appends the row's event time (SG_INT, epoch nanoseconds) as an
 * extra last argument; min_args/max_args count the user's arguments only. */
#define SG_FN_EVENT_TIME (1u << 2)

/* Return codes of the calls below: SG_OK, or SG_ERROR (the result is NULL; for add, the row is
 * ignored by this aggregate). */
#define SG_OK 0
#define SG_ERROR 1

/* A scalar call. `args` holds `nargs` values, each of a declared type (ints are widened to
 * doubles when only SG_T_DOUBLE is declared; an argument of another type gives NULL without a
 * call). Text and JSON arguments are valid during the call only. A result of type SG_TEXT or
 * SG_JSON is copied by the host right after the call returns: its bytes must stay valid until
 * then (a thread_local buffer is enough). */
typedef int (*sg_scalar_fn)(void* user, const sg_value* args, size_t nargs, sg_value* out);

/* An aggregate's state lives in the host's per-group arena (state_size bytes aligned to
 * state_align, at most 16): `init` makes a fresh state there, `destroy` (may be NULL) releases
 * what it owns. A state stays where init made it (the host never copies one bytewise; it
 * merges and serializes), so it may point into itself. */
typedef struct sg_aggregate {
  size_t state_size;  /* 1 .. 65536 */
  size_t state_align; /* power of two, 1 .. 16 */
  void (*init)(void* state);
  void (*destroy)(void* state); /* may be NULL */
  int (*add)(void* state, const sg_value* args, size_t nargs);
  /* Folds `from` into `into` (session windows that bridge merge, cluster mode merges partials). */
  int (*merge)(void* into, const void* from);
  int (*result)(const void* state, sg_value* out); /* same lifetime rule as sg_scalar_fn */
  /* Checkpoints: writes the state into buf (capacity cap) and returns the bytes it needs; when
   * that exceeds cap the host calls again with a big enough buffer. At most 1 MiB. */
  size_t (*serialize)(const void* state, uint8_t* buf, size_t cap);
  /* Restores what serialize wrote into a state made by init (a later version of the plugin
   * may be given an older state: keep the format versioned). */
  int (*deserialize)(void* state, const uint8_t* buf, size_t size);
  /* Heap bytes the state owns beyond state_size (memory accounting); may be NULL. */
  size_t (*heap_bytes)(const void* state);
} sg_aggregate;

typedef struct sg_function {
  const char* name; /* [a-z_][a-z0-9_]*, case-insensitive in SQL */
  int32_t kind;     /* SG_SCALAR or SG_AGGREGATE */
  int32_t min_args;
  int32_t max_args; /* -1: variadic (at most SG_MAX_ARGS are passed) */
  /* Accepted types per argument (SG_T_* masks), max_args entries (variadic: min_args + 1, the
   * last repeats); NULL: any type. */
  const uint32_t* arg_types;
  uint32_t result_types; /* SG_T_* mask the result may have besides NULL (documentation) */
  uint32_t flags;        /* SG_FN_* */
  /* The reference entry shown by `streamgate functions --markdown --plugins-dir DIR`. */
  const char* signature;   /* "c_to_f(number) -> number"; NULL: derived from the name */
  const char* description; /* may be NULL */
  sg_scalar_fn scalar;     /* SG_SCALAR */
  void* user;              /* passed to scalar */
  const sg_aggregate* aggregate; /* SG_AGGREGATE */
} sg_function;

typedef struct sg_plugin {
  uint32_t abi_version; /* SG_PLUGIN_ABI_VERSION the plugin was built against */
  uint32_t struct_size; /* sizeof(sg_plugin) */
  const char* name;     /* shown in logs */
  const char* version;  /* the plugin's own version, shown in logs */
  size_t function_count;
  const sg_function* functions;
} sg_plugin;

typedef const sg_plugin* (*sg_plugin_entry_fn)(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif

#endif /* STREAMGATE_PLUGIN_H */
