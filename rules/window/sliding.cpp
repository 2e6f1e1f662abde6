// Sliding (hopping) windows: [k*slide, k*slide + size) for every k whose window holds t.
#include "rules/window/window.h"

namespace streamgate::rules::window {

void sliding_windows(const plan::WindowSpec& w, TimeNs t, std::vector<Bounds>& out) {
  out.clear();
  // Latest window start <= t, then walk back while the window still covers t.
  TimeNs start = align_down(t, w.slide);
  while (sat_add(start, w.size) > t) {
    out.push_back(Bounds{start, sat_add(start, w.size)});
    if (__builtin_sub_overflow(start, w.slide, &start)) break;
  }
  // Collected from the latest start backwards; callers want ascending end.
  for (std::size_t i = 0, j = out.size(); i + 1 < j; ++i, --j) std::swap(out[i], out[j - 1]);
}

}  // namespace streamgate::rules::window
