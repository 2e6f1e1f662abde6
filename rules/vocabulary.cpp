// The shared vocabulary's few functions (rules/vocabulary.h): how errors, ingest statuses and
// delivery levels are spelled. Pure functions, no state.
#include "rules/vocabulary.h"

#include <cctype>

namespace streamgate::rules {

std::string RuleError::to_string() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

const char* to_string(IngestStatus s) {
  switch (s) {
    case IngestStatus::Ok: return "ok";
    case IngestStatus::NoStream: return "no_stream";
    case IngestStatus::MalformedJson: return "malformed_json";
    case IngestStatus::NotAnObject: return "not_an_object";
    case IngestStatus::TooLarge: return "too_large";
    case IngestStatus::TooDeep: return "too_deep";
    case IngestStatus::MissingTimestamp: return "missing_timestamp";
    case IngestStatus::BadTimestamp: return "bad_timestamp";
    case IngestStatus::Duplicate: return "duplicate";
  }
  return "unknown";
}

const char* to_string(Delivery d) {
  switch (d) {
    case Delivery::AtMostOnce: return "at_most_once";
    case Delivery::AtLeastOnce: return "at_least_once";
    case Delivery::ExactlyOnce: return "exactly_once";
  }
  return "unknown";
}

std::optional<Delivery> parse_delivery(std::string_view text) {
  std::string lower(text);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const Delivery d : {Delivery::AtMostOnce, Delivery::AtLeastOnce, Delivery::ExactlyOnce}) {
    if (lower == to_string(d)) return d;
  }
  return std::nullopt;
}

}  // namespace streamgate::rules
