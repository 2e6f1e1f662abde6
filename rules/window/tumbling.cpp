// Tumbling windows: one epoch-aligned window of `size` per event.
#include "rules/window/window.h"

namespace streamgate::rules::window {

Bounds tumbling_window(const plan::WindowSpec& w, TimeNs t) {
  const TimeNs start = align_down(t, w.size);
  return Bounds{start, sat_add(start, w.size)};
}

}  // namespace streamgate::rules::window
