/* A plugin built for a future ABI version: the host must refuse it with one line naming the file
 * and both versions, and register nothing (tests/unit/gateway/plugins_test.cpp, cli_test). */
#include "streamgate_plugin.h"

static int answer(void* user, const sg_value* args, size_t nargs, sg_value* out) {
  (void)user;
  (void)args;
  (void)nargs;
  out->type = SG_INT;
  out->u.i = 42;
  return SG_OK;
}

static const sg_function functions[] = {
    {"future_answer", SG_SCALAR, 0, 0, NULL, SG_T_INT, SG_FN_DETERMINISTIC, NULL, NULL, answer,
     NULL, NULL}};

static const sg_plugin plugin = {SG_PLUGIN_ABI_VERSION + 98, sizeof(sg_plugin), "wrong_abi", "0",
                                 1, functions};

__attribute__((visibility("default"))) const sg_plugin* streamgate_plugin(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &plugin;
}
