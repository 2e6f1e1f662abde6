// Hashes and encodings: md5, sha1, sha256, sha384, sha512 (OpenSSL libcrypto, which the gateway
// links anyway), crc32 (a small table here: zlib's polynomial, no library for 30 lines), and
// base64 / hex. Text is hashed as its UTF-8 bytes; numbers and booleans as their text, arrays
// and objects as their compact JSON; NULL gives NULL.
#include <array>
#include <cstdint>
#include <cstdio>

#include <openssl/evp.h>

#include "rules/function_registry.h"
#include "rules/functions/common.h"

namespace streamgate::rules {

namespace {

using fn::add_documented;

std::string bytes_of(const Value& v) {
  if (v.is_string()) return v.as_string();
  if (v.is_array() || v.is_object()) return v.to_json();
  return v.to_text();
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

std::function<Value(Args)> digest(const EVP_MD* (*md)()) {
  return [md](Args a) -> Value {
    if (a[0].is_null()) return {};
    const std::string in = bytes_of(a[0]);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(in.data(), in.size(), out, &len, md(), nullptr) != 1) return {};
    return to_hex(out, len);
  };
}

std::uint32_t crc32(std::string_view s) {
  static const std::array<std::uint32_t, 256> kTable = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) c = kTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

//! Decoded bytes must be UTF-8 text to become a value (JSON strings are text); else NULL.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c >= 0x80) {
      if ((c >> 5) == 6) n = 1;
      else if ((c >> 4) == 14) n = 2;
      else if ((c >> 3) == 30) n = 3;
      else return false;
    }
    if (i + n >= s.size() && n > 0) return false;
    for (std::size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

namespace fn {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const std::uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                            (static_cast<unsigned char>(in[i + 1]) << 8) |
                            static_cast<unsigned char>(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += kBase64[(v >> k) & 63];
  }
  if (i < in.size()) {
    std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  int map[256];
  for (int& m : map) m = -1;
  for (int i = 0; i < 64; ++i) map[static_cast<unsigned char>(kBase64[i])] = i;
  map[static_cast<unsigned char>('-')] = 62;  // the URL-safe alphabet is accepted too
  map[static_cast<unsigned char>('_')] = 63;
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    if (ch == '=') break;
    const int v = map[static_cast<unsigned char>(ch)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

}  // namespace fn

void register_hash_builtins(FunctionRegistry& r) {
  const std::string fam = "hash";
  add_documented(r, fam, "md5", {}, 1, 1, "md5(value) -> text", "MD5 digest as lower-case hex.",
                 {{"md5('abc')", "\"900150983cd24fb0d6963f7d28e17f72\""}}, digest(EVP_md5));
  add_documented(r, fam, "sha1", {}, 1, 1, "sha1(value) -> text", "SHA-1 digest as hex.",
                 {{"sha1('abc')", "\"a9993e364706816aba3e25717850c26c9cd0d89d\""}}, digest(EVP_sha1));
  add_documented(
      r, fam, "sha256", {}, 1, 1, "sha256(value) -> text", "SHA-256 digest as hex.",
      {{"sha256('abc')", "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""}},
      digest(EVP_sha256));
  add_documented(r, fam, "sha384", {}, 1, 1, "sha384(value) -> text", "SHA-384 digest as hex.",
                 {{"length(sha384('abc'))", "96"}}, digest(EVP_sha384));
  add_documented(r, fam, "sha512", {}, 1, 1, "sha512(value) -> text", "SHA-512 digest as hex.",
                 {{"length(sha512('abc'))", "128"}}, digest(EVP_sha512));
  add_documented(r, fam, "crc32", {}, 1, 1, "crc32(value) -> int",
                 "CRC-32 (zlib / IEEE 802.3 polynomial) as an unsigned integer; handy to shard "
                 "keys: crc32(device_id) % 8.",
                 {{"crc32('123456789')", "3421780262"}}, [](Args a) -> Value {
                   if (a[0].is_null()) return {};
                   return static_cast<std::int64_t>(crc32(bytes_of(a[0])));
                 });
  add_documented(r, fam, "to_base64", {"base64_encode"}, 1, 1, "to_base64(value) -> text",
                 "Base64 (RFC 4648, with padding) of the value's bytes.",
                 {{"to_base64('hi!')", "\"aGkh\""}}, [](Args a) -> Value {
                   if (a[0].is_null()) return {};
                   return fn::base64_encode(bytes_of(a[0]));
                 });
  add_documented(r, fam, "from_base64", {"base64_decode"}, 1, 1, "from_base64(text) -> text",
                 "Decodes base64 (standard or URL-safe alphabet); NULL when malformed or when "
                 "the bytes are not UTF-8 text.",
                 {{"from_base64('aGkh')", "\"hi!\""}}, [](Args a) -> Value {
                   if (!a[0].is_string()) return {};
                   auto out = fn::base64_decode(a[0].as_string());
                   if (!out || !valid_utf8(*out)) return {};
                   return *out;
                 });
  add_documented(r, fam, "to_hex", {"hex"}, 1, 1, "to_hex(value) -> text",
                 "An integer in hexadecimal (two's complement for negatives), or the hex of "
                 "text's bytes.",
                 {{"to_hex(255)", "\"ff\""}, {"to_hex('A')", "\"41\""}}, [](Args a) -> Value {
                   if (a[0].is_int()) {
                     char buf[24];
                     std::snprintf(buf, sizeof buf, "%llx",
                                   static_cast<unsigned long long>(a[0].as_int()));
                     return std::string(buf);
                   }
                   if (!a[0].is_string()) return {};
                   const std::string& s = a[0].as_string();
                   return to_hex(reinterpret_cast<const unsigned char*>(s.data()), s.size());
                 });
  add_documented(r, fam, "hex_to_int", {"hex2dec"}, 1, 1, "hex_to_int(text) -> int",
                 "Parses hexadecimal text (an optional 0x prefix) of at most 16 digits.",
                 {{"hex_to_int('0xff')", "255"}}, [](Args a) -> Value {
                   if (!a[0].is_string()) return {};
                   std::string_view s = a[0].as_string();
                   if (s.starts_with("0x") || s.starts_with("0X")) s.remove_prefix(2);
                   if (s.empty() || s.size() > 16) return {};
                   std::uint64_t v = 0;
                   for (char c : s) {
                     int d = c >= '0' && c <= '9'   ? c - '0'
                             : c >= 'a' && c <= 'f' ? c - 'a' + 10
                             : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                    : -1;
                     if (d < 0) return {};
                     v = v * 16 + static_cast<std::uint64_t>(d);
                   }
                   return static_cast<std::int64_t>(v);
                 });
}

}  // namespace streamgate::rules
