// DeliveryLog: the mqtt_deliveries table and its in-memory copy.
#include "storage/delivery_log.h"

#include <new>

namespace streamgate::storage {

namespace {
constexpr std::size_t kPacketIds = 65536;
}  // namespace

DeliveryLog::DeliveryLog(Database& db)
    : db_(db), entries_(static_cast<Entry*>(std::calloc(kPacketIds, sizeof(Entry)))) {
  if (!entries_) throw std::bad_alloc();
  auto select = db_.cached("SELECT packet_id, digest, arrival FROM mqtt_deliveries");
  while (select->step()) {
    const std::int64_t id = select->column_int64(0);
    if (id <= 0 || id >= static_cast<std::int64_t>(kPacketIds)) continue;
    entries_[static_cast<std::size_t>(id)] = {select->column_int64(1), select->column_int64(2) + 1};
    if (select->column_int64(2) >= arrivals_) arrivals_ = select->column_int64(2) + 1;
  }
}

std::int64_t DeliveryLog::digest(std::string_view topic, std::string_view payload) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view s) {
    for (const char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
  };
  mix(topic);
  h ^= 0xff;  // separator: ("ab","c") and ("a","bc") differ
  h *= 1099511628211ull;
  mix(payload);
  return static_cast<std::int64_t>(h);
}

bool DeliveryLog::is_redelivery(int packet_id, std::int64_t digest) const {
  if (packet_id <= 0 || packet_id >= static_cast<int>(kPacketIds)) return false;
  const Entry& e = entries_[static_cast<std::size_t>(packet_id)];
  return e.arrival_plus_one != 0 && e.digest == digest && arrivals_ - (e.arrival_plus_one - 1) <= kWindow;
}

void DeliveryLog::record(int packet_id, std::int64_t digest) {
  if (packet_id <= 0 || packet_id >= static_cast<int>(kPacketIds)) return;
  const std::int64_t arrival = arrivals_++;
  auto upsert = db_.cached("INSERT OR REPLACE INTO mqtt_deliveries(packet_id, digest, arrival) VALUES (?1, ?2, ?3)");
  upsert->bind(1, static_cast<std::int64_t>(packet_id)).bind(2, digest).bind(3, arrival).exec();
  entries_[static_cast<std::size_t>(packet_id)] = {digest, arrival + 1};
}

void DeliveryLog::forget_all() {
  if (arrivals_ == 0) return;  // nothing recorded: leave the untouched pages unmapped
  db_.exec("DELETE FROM mqtt_deliveries");
  for (std::size_t i = 0; i < kPacketIds; ++i) entries_[i] = Entry{0, 0};
}

}  // namespace streamgate::storage
