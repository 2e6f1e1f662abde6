// JSONPath filter selectors for the json path functions, see json_path_filter.h. Bounded like the
// paths they sit in: at most kMaxNodes nodes, nested at most kMaxDepth levels (rule text and,
// for a non-literal path, message data decide both).
#include "rules/functions/json_path_filter.h"

#include <cctype>
#include <charconv>
#include <vector>

namespace streamgate::rules::jsonpath {

namespace {

constexpr std::size_t kMaxNodes = 64;
constexpr int kMaxDepth = 16;

struct Operand {
  bool is_path = false;
  std::vector<std::string> names;  //!< path steps; an index step is stored in `indexes`
  std::vector<std::optional<std::int64_t>> indexes;
  Value literal;
};

enum class Op { None, Eq, Ne, Lt, Le, Gt, Ge };

}  // namespace

struct FilterExpr {
  enum class Kind { Or, And, Not, Test } kind = Kind::Test;
  std::vector<std::shared_ptr<const FilterExpr>> children;
  Operand lhs, rhs;
  Op op = Op::None;
};

namespace {

class Parser {
 public:
  Parser(std::string_view p, std::size_t& i, std::string& error) : p_(p), i_(i), error_(error) {}

  std::shared_ptr<const FilterExpr> parse() {
    auto f = disjunction(0);
    if (!f) return nullptr;
    skip();
    if (i_ >= p_.size() || p_[i_] != ']') return fail("expected ']' to close the filter");
    ++i_;
    return f;
  }

 private:
  std::shared_ptr<const FilterExpr> fail(std::string msg) {
    if (error_.empty()) error_ = "JSONPath filter at offset " + std::to_string(i_) + ": " + std::move(msg);
    return nullptr;
  }
  bool bad(std::string msg) {
    fail(std::move(msg));
    return false;
  }
  void skip() {
    while (i_ < p_.size() && (p_[i_] == ' ' || p_[i_] == '\t')) ++i_;
  }
  bool eat(std::string_view s) {
    skip();
    if (p_.substr(i_, s.size()) != s) return false;
    i_ += s.size();
    return true;
  }
  bool count_node() { return ++nodes_ <= kMaxNodes; }

  //! `next (sep next)*`: one node of `kind` over the operands, or the single operand itself.
  template <class Next>
  std::shared_ptr<const FilterExpr> chain(FilterExpr::Kind kind, std::string_view sep, Next next) {
    auto first = next();
    if (!first) return nullptr;
    if (!(skip(), p_.substr(i_, sep.size()) == sep)) return first;
    auto f = std::make_shared<FilterExpr>();
    f->kind = kind;
    f->children.push_back(std::move(first));
    while (eat(sep)) {
      auto operand = next();
      if (!operand) return nullptr;
      f->children.push_back(std::move(operand));
    }
    return f;
  }

  std::shared_ptr<const FilterExpr> disjunction(int depth) {
    if (depth > kMaxDepth) return fail("nested too deeply");
    return chain(FilterExpr::Kind::Or, "||", [&] { return conjunction(depth); });
  }

  std::shared_ptr<const FilterExpr> conjunction(int depth) {
    return chain(FilterExpr::Kind::And, "&&", [&] { return negation(depth); });
  }

  std::shared_ptr<const FilterExpr> negation(int depth) {
    if (!count_node()) return fail("more than " + std::to_string(kMaxNodes) + " terms");
    if (depth > kMaxDepth) return fail("nested too deeply");
    skip();
    if (i_ < p_.size() && p_[i_] == '!' && p_.substr(i_, 2) != "!=") {
      ++i_;
      auto inner = negation(depth + 1);
      if (!inner) return nullptr;
      auto f = std::make_shared<FilterExpr>();
      f->kind = FilterExpr::Kind::Not;
      f->children.push_back(std::move(inner));
      return f;
    }
    if (eat("(")) {
      auto inner = disjunction(depth + 1);
      if (!inner) return nullptr;
      if (!eat(")")) return fail("expected ')'");
      return inner;
    }
    auto f = std::make_shared<FilterExpr>();
    if (!operand(f->lhs)) return nullptr;
    skip();
    static const std::pair<std::string_view, Op> kOps[] = {{"==", Op::Eq}, {"!=", Op::Ne}, {"<=", Op::Le},
                                                           {">=", Op::Ge}, {"<", Op::Lt},  {">", Op::Gt}};
    if (p_.substr(i_, 2) == "=~") return fail("regular expressions (=~) are not supported: filter the result with regexp_matches()");
    if (p_.substr(i_, 1) == "=" && p_.substr(i_, 2) != "==") return fail("'=' compares nothing: write '=='");
    for (const auto& [text, op] : kOps) {
      if (p_.substr(i_, text.size()) == text) {
        i_ += text.size();
        f->op = op;
        if (!operand(f->rhs)) return nullptr;
        break;
      }
    }
    if (f->op == Op::None && !f->lhs.is_path && !f->lhs.literal.is_bool())
      return fail("a filter test needs '@' (the current element), e.g. [? @.age > 30]");
    return f;
  }

  bool operand(Operand& o) {
    skip();
    if (i_ >= p_.size()) return bad("unexpected end of the path");
    const char c = p_[i_];
    if (c == '@') {
      ++i_;
      o.is_path = true;
      for (;;) {
        if (i_ < p_.size() && p_[i_] == '.') {
          ++i_;
          const std::size_t start = i_;
          while (i_ < p_.size() && (std::isalnum(static_cast<unsigned char>(p_[i_])) || p_[i_] == '_' || p_[i_] == '-'))
            ++i_;
          if (i_ == start) return bad("expected a member name after '@.'");
          o.names.emplace_back(p_.substr(start, i_ - start));
          o.indexes.emplace_back();
        } else if (i_ < p_.size() && p_[i_] == '[') {
          ++i_;
          if (i_ < p_.size() && (p_[i_] == '\'' || p_[i_] == '"')) {
            std::string s;
            if (!quoted(s)) return false;
            o.names.push_back(std::move(s));
            o.indexes.emplace_back();
          } else {
            std::int64_t n = 0;
            const auto [ptr, ec] = std::from_chars(p_.data() + i_, p_.data() + p_.size(), n);
            if (ec != std::errc()) return bad("expected a quoted name or an index in '@[...]'");
            i_ = static_cast<std::size_t>(ptr - p_.data());
            o.names.emplace_back();
            o.indexes.emplace_back(n);
          }
          if (i_ >= p_.size() || p_[i_] != ']') return bad("expected ']'");
          ++i_;
        } else {
          return true;
        }
      }
    }
    if (c == '\'' || c == '"') {
      std::string s;
      if (!quoted(s)) return false;
      o.literal = Value(std::move(s));
      return true;
    }
    for (const auto& [word, v] : {std::pair<std::string_view, Value>{"true", Value(true)},
                                  {"false", Value(false)}, {"null", Value()}}) {
      if (p_.substr(i_, word.size()) == word) {
        i_ += word.size();
        o.literal = v;
        return true;
      }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      const std::size_t start = i_;
      if (c == '-') ++i_;
      bool is_double = false;
      while (i_ < p_.size() && ((p_[i_] >= '0' && p_[i_] <= '9') || p_[i_] == '.' || p_[i_] == 'e' ||
                                p_[i_] == 'E' || ((p_[i_] == '+' || p_[i_] == '-') && (p_[i_ - 1] == 'e' || p_[i_ - 1] == 'E')))) {
        if (p_[i_] == '.' || p_[i_] == 'e' || p_[i_] == 'E') is_double = true;
        ++i_;
      }
      const std::string text(p_.substr(start, i_ - start));
      if (!is_double) {
        std::int64_t n = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (ec == std::errc() && ptr == text.data() + text.size()) {
          o.literal = Value(n);
          return true;
        }
      }
      double d = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
      if (ec != std::errc() || ptr != text.data() + text.size()) return bad("bad number '" + text + "'");
      o.literal = Value(d);
      return true;
    }
    return bad("expected '@', a number, a quoted string, true, false or null");
  }

  bool quoted(std::string& out) {
    const char q = p_[i_++];
    const std::size_t close = p_.find(q, i_);
    if (close == std::string_view::npos) return bad("unterminated string");
    out = std::string(p_.substr(i_, close - i_));
    i_ = close + 1;
    return true;
  }

  std::string_view p_;
  std::size_t& i_;
  std::string& error_;
  std::size_t nodes_ = 0;
};

//! The operand's value for this element; null when a path member is missing.
const Value* resolve(const Operand& o, const Value& item) {
  if (!o.is_path) return &o.literal;
  const Value* v = &item;
  for (std::size_t k = 0; k < o.names.size() && v; ++k) {
    if (o.indexes[k])
      v = v->is_array() ? v->at(*o.indexes[k]) : nullptr;
    else
      v = v->is_object() ? v->find(o.names[k]) : nullptr;
  }
  return v;
}

bool test(const FilterExpr& f, const Value& item) {
  const Value* a = resolve(f.lhs, item);
  if (f.op == Op::None) return f.lhs.is_path ? a != nullptr : f.lhs.literal.is_true();
  const Value* b = resolve(f.rhs, item);
  const bool eq = (!a || !b) ? a == b : compare(*a, *b) == 0;
  switch (f.op) {
    case Op::Eq: return eq;
    case Op::Ne: return !eq;
    default: break;
  }
  if (!a || !b) return false;
  const bool comparable = (a->is_number() && b->is_number()) || (a->is_string() && b->is_string());
  if (!comparable) return false;
  const int c = compare(*a, *b);
  switch (f.op) {
    case Op::Lt: return c < 0;
    case Op::Le: return c <= 0;
    case Op::Gt: return c > 0;
    case Op::Ge: return c >= 0;
    default: return false;
  }
}

}  // namespace

std::shared_ptr<const FilterExpr> parse_filter(std::string_view p, std::size_t& i, std::string& error) {
  return Parser(p, i, error).parse();
}

bool matches(const FilterExpr& f, const Value& item) {
  switch (f.kind) {
    case FilterExpr::Kind::Or:
      for (const auto& c : f.children)
        if (matches(*c, item)) return true;
      return false;
    case FilterExpr::Kind::And:
      for (const auto& c : f.children)
        if (!matches(*c, item)) return false;
      return true;
    case FilterExpr::Kind::Not: return !matches(*f.children[0], item);
    case FilterExpr::Kind::Test: return test(f, item);
  }
  return false;
}

}  // namespace streamgate::rules::jsonpath
