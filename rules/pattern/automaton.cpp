// Glushkov construction for row patterns: each sub-pattern becomes a fragment (its first states,
// its last states, whether it can match nothing); concatenation and repetition add transitions
// from last states to first states. Building the loop edge of a repetition before the edges to
// what follows it makes "repeat" the preferred transition, which is what greedy means here.
#include "rules/pattern/automaton.h"

#include <algorithm>

namespace streamgate::rules::pattern {
namespace {

struct Fragment {
  std::vector<std::uint32_t> first;
  std::vector<std::uint32_t> last;
  bool nullable = false;
};

void append_unique(std::vector<std::uint32_t>& to, const std::vector<std::uint32_t>& from) {
  for (std::uint32_t s : from)
    if (std::find(to.begin(), to.end(), s) == to.end()) to.push_back(s);
}

class Builder {
 public:
  Builder(Automaton& a, std::size_t max_states) : a_(a), max_states_(max_states) {
    a_.state_var.push_back(0);
    a_.next.emplace_back();
    a_.accepting.push_back(0);
  }

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

  Fragment node(const ast::PatternNode& n) {
    if (failed()) return {};
    if (n.min == 1 && n.max == 1) return base(n);
    // X{min,max}: min plain copies, then either X* (unbounded) or (max-min) nested optionals
    // X (X (X)?)? so a shorter repetition is only taken once a longer one failed.
    Fragment out;
    out.nullable = true;
    bool empty = true;
    auto concat_into = [&](Fragment f) {
      if (empty) {
        out = std::move(f);
        empty = false;
      } else {
        out = concat(std::move(out), std::move(f));
      }
    };
    const int plain = n.max == -1 ? std::max(n.min - 1, 0) : n.min;
    for (int i = 0; i < plain && !failed(); ++i) concat_into(base(n));
    if (n.max == -1) {
      Fragment loop = base(n);
      for (std::uint32_t l : loop.last) append_unique(a_.next[l], loop.first);
      if (n.min == 0) loop.nullable = true;
      concat_into(std::move(loop));
    } else if (n.max > n.min) {
      Fragment tail = optional(base(n));
      for (int i = n.max - n.min - 1; i > 0 && !failed(); --i)
        tail = optional(concat(base(n), std::move(tail)));
      concat_into(std::move(tail));
    }
    return out;
  }

 private:
  // The node without its quantifier.
  Fragment base(const ast::PatternNode& n) {
    if (failed()) return {};
    switch (n.kind) {
      case ast::PatternKind::Var: {
        if (a_.state_var.size() >= max_states_) {
          error_ = "pattern too large: more than " + std::to_string(max_states_) +
                   " states after unrolling repetitions";
          return {};
        }
        const auto s = static_cast<std::uint32_t>(a_.state_var.size());
        int v = a_.var_index(n.var);
        if (v < 0) {
          v = static_cast<int>(a_.vars.size());
          a_.vars.push_back(upper(n.var));
        }
        a_.state_var.push_back(static_cast<std::uint16_t>(v));
        a_.next.emplace_back();
        a_.accepting.push_back(0);
        return Fragment{{s}, {s}, false};
      }
      case ast::PatternKind::Sequence: {
        Fragment out;
        out.nullable = true;
        bool empty = true;
        for (const auto& c : n.children) {
          Fragment f = node(c);
          if (empty) {
            out = std::move(f);
            empty = false;
          } else {
            out = concat(std::move(out), std::move(f));
          }
        }
        return out;
      }
      case ast::PatternKind::Alternation: {
        Fragment out;
        for (const auto& c : n.children) {
          Fragment f = node(c);
          append_unique(out.first, f.first);
          append_unique(out.last, f.last);
          out.nullable = out.nullable || f.nullable;
        }
        return out;
      }
    }
    return {};
  }

  Fragment concat(Fragment a, Fragment b) {
    for (std::uint32_t l : a.last) append_unique(a_.next[l], b.first);
    Fragment out;
    out.first = a.first;
    if (a.nullable) append_unique(out.first, b.first);
    out.last = b.last;
    if (b.nullable) append_unique(out.last, a.last);
    out.nullable = a.nullable && b.nullable;
    return out;
  }

  static Fragment optional(Fragment f) {
    f.nullable = true;
    return f;
  }

  Automaton& a_;
  std::size_t max_states_;
  std::string error_;
};

}  // namespace

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

int Automaton::var_index(std::string_view name) const {
  const std::string u = upper(name);
  for (std::size_t i = 0; i < vars.size(); ++i)
    if (vars[i] == u) return static_cast<int>(i);
  return -1;
}

std::optional<Automaton> compile(const ast::PatternNode& pattern, std::string* error,
                                 std::size_t max_states) {
  Automaton a;
  Builder b(a, max_states);
  Fragment root = b.node(pattern);
  if (b.failed()) {
    if (error) *error = b.error();
    return std::nullopt;
  }
  a.next[0] = root.first;
  for (std::uint32_t l : root.last) a.accepting[l] = 1;
  a.nullable = root.nullable;
  if (a.vars.size() > 0xFFFF) {
    if (error) *error = "too many pattern variables";
    return std::nullopt;
  }
  return a;
}

}  // namespace streamgate::rules::pattern
