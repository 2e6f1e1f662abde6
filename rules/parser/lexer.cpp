// Lexer for rule files: comments, quoted identifiers, strings, numbers and operators.
#include "rules/parser/lexer.h"

#include <cstdio>

namespace streamgate::rules::ast {
namespace {

bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// Bytes >= 0x80 belong to identifiers so UTF-8 field names work without quoting.
bool is_ident_start(unsigned char c) {
  return is_alpha(c) || c == '_' || c >= 0x80;
}
bool is_ident_char(unsigned char c) {
  return is_ident_start(c) || is_digit(c);
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : s_(src) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    for (;;) {
      skip_space_and_comments(out);
      if (i_ >= s_.size()) {
        out.push_back(make(TokenKind::End, i_, pos_at(i_)));
        return out;
      }
      out.push_back(next(out.empty() ? TokenKind::End : out.back().kind));
    }
  }

 private:
  SourcePos pos_at(std::size_t off) const {
    return SourcePos{line_, static_cast<int>(off - line_start_ + 1)};
  }

  // Advances over one byte, keeping line/column bookkeeping right inside multi-line tokens.
  void bump() {
    if (s_[i_] == '\n') {
      ++line_;
      line_start_ = i_ + 1;
    }
    ++i_;
  }

  Token make(TokenKind kind, std::size_t start, SourcePos pos, std::string text = {}) const {
    Token t;
    t.kind = kind;
    t.pos = pos;
    t.offset = start;
    t.length = i_ - start;
    t.text = std::move(text);
    return t;
  }

  void skip_space_and_comments(std::vector<Token>& out) {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        bump();
      } else if (c == '-' && i_ + 1 < s_.size() && s_[i_ + 1] == '-') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {
        const std::size_t start = i_;
        const SourcePos pos = pos_at(i_);
        i_ += 2;
        bool closed = false;
        while (i_ < s_.size()) {
          if (s_[i_] == '*' && i_ + 1 < s_.size() && s_[i_ + 1] == '/') {
            i_ += 2;
            closed = true;
            break;
          }
          bump();
        }
        if (!closed) {
          Token t = make(TokenKind::Error, start, pos, "unterminated block comment");
          t.to_end = true;
          out.push_back(std::move(t));
        }
      } else {
        return;
      }
    }
  }

  // 'text' with '' as an escaped quote; also "ident" and `ident` with doubled-quote escapes.
  Token quoted(char quote, TokenKind kind, const char* what) {
    const std::size_t start = i_;
    const SourcePos pos = pos_at(i_);
    ++i_;
    std::string text;
    for (;;) {
      if (i_ >= s_.size()) {
        Token t = make(TokenKind::Error, start, pos, std::string("unterminated ") + what);
        t.to_end = true;
        return t;
      }
      if (s_[i_] == quote) {
        if (i_ + 1 < s_.size() && s_[i_ + 1] == quote) {
          text.push_back(quote);
          i_ += 2;
          continue;
        }
        ++i_;
        break;
      }
      text.push_back(s_[i_]);
      bump();
    }
    if (kind == TokenKind::QuotedIdentifier && text.empty())
      return make(TokenKind::Error, start, pos, "empty quoted identifier");
    return make(kind, start, pos, std::move(text));
  }

  // Digits [. digits] [e [+-] digits], or `.5` when called on a dot.
  Token number(std::size_t start, SourcePos pos) {
    bool is_float = false;
    while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    if (i_ + 1 < s_.size() && s_[i_] == '.' && is_digit(s_[i_ + 1])) {
      is_float = true;
      ++i_;
      while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      std::size_t j = i_ + 1;
      if (j < s_.size() && (s_[j] == '+' || s_[j] == '-')) ++j;
      if (j < s_.size() && is_digit(s_[j])) {
        is_float = true;
        i_ = j;
        while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
      }
    }
    // `12abc` or `1e` is a typo, not the number 12 followed by a name.
    if (i_ < s_.size() && is_ident_char(s_[i_])) {
      while (i_ < s_.size() && is_ident_char(s_[i_])) ++i_;
      std::string bad(s_.substr(start, i_ - start));
      if (bad.size() > 24) bad = bad.substr(0, 24) + "...";
      return make(TokenKind::Error, start, pos, "invalid number '" + bad + "'");
    }
    return make(is_float ? TokenKind::Float : TokenKind::Integer, start, pos,
                std::string(s_.substr(start, i_ - start)));
  }

  Token next(TokenKind previous) {
    const std::size_t start = i_;
    const SourcePos pos = pos_at(i_);
    const auto c = static_cast<unsigned char>(s_[i_]);
    const char n = i_ + 1 < s_.size() ? s_[i_ + 1] : '\0';
    auto op = [&](TokenKind kind, std::size_t len) {
      i_ += len;
      return make(kind, start, pos, std::string(s_.substr(start, len)));
    };

    if (is_ident_start(c)) {
      while (i_ < s_.size() && is_ident_char(s_[i_])) ++i_;
      return make(TokenKind::Identifier, start, pos, std::string(s_.substr(start, i_ - start)));
    }
    if (is_digit(c)) return number(start, pos);
    switch (c) {
      case '\'':
        return quoted('\'', TokenKind::String, "string literal");
      case '"':
        return quoted('"', TokenKind::QuotedIdentifier, "quoted identifier");
      case '`':
        return quoted('`', TokenKind::QuotedIdentifier, "quoted identifier");
      case '(':
        return op(TokenKind::LParen, 1);
      case ')':
        return op(TokenKind::RParen, 1);
      case '[':
        return op(TokenKind::LBracket, 1);
      case ']':
        return op(TokenKind::RBracket, 1);
      case ',':
        return op(TokenKind::Comma, 1);
      case ';':
        return op(TokenKind::Semicolon, 1);
      case '*':
        return op(TokenKind::Star, 1);
      case '+':
        return op(TokenKind::Plus, 1);
      case '-':
        if (n == '>') return op(TokenKind::Arrow, 2);
        return op(TokenKind::Minus, 1);
      case '/':
        return op(TokenKind::Slash, 1);
      case '%':
        return op(TokenKind::Percent, 1);
      case '=':
        return op(TokenKind::Eq, n == '=' ? 2 : 1);
      case '<':
        if (n == '=') return op(TokenKind::Le, 2);
        if (n == '>') return op(TokenKind::Ne, 2);
        return op(TokenKind::Lt, 1);
      case '>':
        if (n == '=') return op(TokenKind::Ge, 2);
        return op(TokenKind::Gt, 1);
      case '!':
        if (n == '=') return op(TokenKind::Ne, 2);
        break;
      case '|':
        if (n == '|') return op(TokenKind::Concat, 2);
        return op(TokenKind::Pipe, 1);
      case '?':
        return op(TokenKind::Question, 1);
      case '{':
        return op(TokenKind::LBrace, 1);
      case '}':
        return op(TokenKind::RBrace, 1);
      case '.': {
        // `.5` is a number, but after a name, `)` or `]` the dot is member access (a.b).
        const bool after_operand = previous == TokenKind::Identifier ||
                                   previous == TokenKind::QuotedIdentifier ||
                                   previous == TokenKind::RParen || previous == TokenKind::RBracket;
        if (!after_operand && is_digit(static_cast<unsigned char>(n))) return number(start, pos);
        return op(TokenKind::Dot, 1);
      }
      default:
        break;
    }
    ++i_;
    char buf[48];
    if (c > 0x20 && c < 0x7f)
      std::snprintf(buf, sizeof buf, "unexpected character '%c'", static_cast<char>(c));
    else
      std::snprintf(buf, sizeof buf, "unexpected character 0x%02X", static_cast<unsigned>(c));
    return make(TokenKind::Error, start, pos, buf);
  }

  std::string_view s_;
  std::size_t i_ = 0;
  int line_ = 1;
  std::size_t line_start_ = 0;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) {
  return Lexer(source).run();
}

}  // namespace streamgate::rules::ast
