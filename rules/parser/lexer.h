// Lexer for rule files: source text to tokens with 1-based positions and byte offsets.
// Keywords are not reserved, so the lexer knows only identifiers; the parser decides by context
// whether `count` or `timestamp` is a keyword, a function or a field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rules/ast.h"

namespace streamgate::rules::ast {

enum class TokenKind : std::uint8_t {
  End,               //!< end of input, always the last token
  Error,             //!< a lexical error; `text` holds the message
  Identifier,        //!< bare word, `text` as written (keywords included)
  QuotedIdentifier,  //!< "name" or `name`, `text` unescaped
  String,            //!< 'text', `text` unescaped ('' -> ')
  Integer,           //!< digits only, `text` as written
  Float,             //!< digits with '.' or exponent, `text` as written
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Semicolon,
  Dot,
  Arrow,  //!< -> (eKuiper's JSON member access, a->b)
  Star,
  Plus,
  Minus,
  Slash,
  Percent,
  Concat,  //!< ||
  Eq,      //!< = or ==
  Ne,      //!< != or <>
  Lt,
  Le,
  Gt,
  Ge,
  // Row-pattern quantifiers and alternation (MATCH_RECOGNIZE ... PATTERN (A B+ C? D{2,3} | E)).
  Question,  //!< ?
  LBrace,    //!< {
  RBrace,    //!< }
  Pipe,      //!< | (a single bar; || is Concat)
};

struct Token {
  TokenKind kind = TokenKind::End;
  SourcePos pos;
  std::size_t offset = 0;  //!< byte offset of the first character in the source
  std::size_t length = 0;  //!< bytes of source the token spans
  std::string text;
  //! Error tokens that swallow the rest of the input (unterminated string or comment): the
  //! parser reports these even while skipping a broken statement, since they hide what follows.
  bool to_end = false;
};

//! Splits a whole rule file into tokens; never fails (errors become Error tokens) and always
//! ends with exactly one End token.
std::vector<Token> tokenize(std::string_view source);

}  // namespace streamgate::rules::ast
