// MATCH_RECOGNIZE stage of a rule: buffers input rows until the watermark passes them (so each
// partition sees its rows in event-time order whatever order they arrived in), feeds them to the
// pattern matcher with DEFINE compiled as expressions, and turns each match into a row of the
// partition columns and MEASURES, which the rule then processes like an input row.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "rules/expr/expr.h"
#include "rules/pattern/matcher.h"
#include "rules/planner/plan.h"
#include "rules/vocabulary.h"

namespace streamgate::rules::runtime {

//! A non-owning reference to a callable, valid while the callable lives: what a callback
//! parameter needs, without std::function's heap allocation for lambdas that capture more than
//! two pointers (the rule runtime calls release() twice per event).
template <class Sig>
class FunctionRef;
template <class R, class... A>
class FunctionRef<R(A...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef> &&
                                              std::is_invocable_r_v<R, F&, A...>>>
  FunctionRef(F&& f) noexcept  // NOLINT(google-explicit-constructor): used like std::function
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, A... a) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<A>(a)...);
        }) {}
  R operator()(A... a) const { return call_(obj_, std::forward<A>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, A...);
};

class MatchStage : public expr::NavHost {
 public:
  //! A match as a row: plan.match->columns values, with the event time of its last row.
  using OnRow = FunctionRef<void(std::vector<Value>&& columns, TimeNs event_time)>;

  //! Partitions are bounded by options->max_group_keys; idle ones go after `idle_ttl`.
  MatchStage(const plan::MatchPlan* mp, const EngineOptions* options, TimeNs idle_ttl);

  //! Buffers one input row (`width` input slots). False when it is late: older than rows the
  //! matcher already saw (the caller routes it to the late output).
  bool add(const Value* slots, TimeNs event_time, std::uint64_t* dropped);
  //! Releases buffered rows up to `watermark` in event-time order into the matcher, then lets
  //! WITHIN expire (kTimeMax: end of input, every partial match ends).
  void release(TimeNs watermark, TimeNs now, std::uint64_t* eval_errors, OnRow on_row);

  void rebind(const plan::MatchPlan* mp) { mp_ = mp; }
  std::size_t pending() const { return pending_.size(); }
  pattern::MatcherStats stats() const { return matcher_.stats(); }

  nlohmann::json save() const;
  void restore(const nlohmann::json& j);

  Value navigate(const expr::Node& n, expr::Ctx& ctx) override;

 private:
  void on_match(const pattern::MatchView& m, OnRow on_row);

  const plan::MatchPlan* mp_;
  const EngineOptions* options_;
  pattern::Matcher matcher_;
  //! Rows waiting for the watermark, by event time (equal times keep arrival order). A ring of
  //! reused rows: in-order input appends at the back, an out-of-order row is moved back into
  //! place by swaps; the rows' slot vectors circulate between this buffer and the matcher.
  pattern::RowRing pending_;
  TimeNs released_ = kTimeMin;  //!< rows at or before this went to the matcher
  Array key_parts_;             //!< composite PARTITION BY key, built in place
  // Navigation context of the expression being evaluated.
  const pattern::MatchView* view_ = nullptr;
  std::size_t current_ = 0;  //!< index of the current row in view_
  TimeNs now_ = 0;
  std::uint64_t* eval_errors_ = nullptr;
};

}  // namespace streamgate::rules::runtime
