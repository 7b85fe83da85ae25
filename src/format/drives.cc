// M.drives, the drives of a shipment (valise/drives.h): writing, parsing,
// and the questions asked of it (who holds an entry, how to name a drive,
// which drive a SRC is). Format: docs/formats.md, "Drives (M.drives)".
#include "valise/drives.h"

#include <nlohmann/json.hpp>

namespace valise {

namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kFormatName = "valise-drives";
constexpr int kVersion = 1;

// Strings are stored %XX-escaped (EscapePath), so JSON always holds UTF-8
// and any bytes come back exactly.
Json Str(const std::string& s) { return EscapePath(s); }

Status GetStr(const Json& j, const char* key, std::string_view name,
              std::string* out) {
  out->clear();
  auto it = j.find(key);
  if (it == j.end()) return Status::OK();
  if (!it->is_string()) {
    return Status::InvalidArgument(
        std::string(name), std::string("'") + key + "' is not a string");
  }
  Status s = UnescapePath(it->get<std::string>(), out);
  if (!s.ok()) {
    return Status::InvalidArgument(
        std::string(name), std::string("'") + key + "': " + s.message());
  }
  return Status::OK();
}

Status GetU64(const Json& j, const char* key, std::string_view name,
              uint64_t* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) {
    return Status::InvalidArgument(
        std::string(name),
        std::string("'") + key + "' missing or not a whole number");
  }
  *out = it->get<uint64_t>();
  return Status::OK();
}

Json DriveJson(const ShipmentDrive& d) {
  Json j;
  j["label"] = Str(d.label);
  j["source"] = Str(d.source);
  j["whole"] = d.id.whole;
  j["fs_uuid"] = Str(d.id.fs_uuid);
  j["fs_label"] = Str(d.id.fs_label);
  j["fs_type"] = Str(d.id.fs_type);
  j["serial"] = Str(d.id.serial);
  j["wwn"] = Str(d.id.wwn);
  j["model"] = Str(d.id.model);
  j["device"] = Str(d.id.device);
  j["device_bytes"] = d.id.device_bytes;
  j["files"] = d.files;
  j["bytes"] = d.bytes;
  Json runs = Json::array();
  for (const auto& [first, count] : d.runs) runs.push_back({first, count});
  j["runs"] = std::move(runs);
  // Added to version 1 (only pack writes it): a reader that predates it
  // skips it, and sees a parity drive as a drive holding no files.
  if (d.pack_role != PackRole::kNone) {
    j["pack"] = {{"role", d.pack_role == PackRole::kData ? "data" : "parity"},
                 {"index", d.pack_index}};
  }
  return j;
}

// The optional "pack": {"role": "data"|"parity", "index": I}.
Status ParsePackRole(const Json& j, std::string_view name, ShipmentDrive* d) {
  auto pack = j.find("pack");
  if (pack == j.end()) return Status::OK();
  auto role = pack->is_object() ? pack->find("role") : pack->end();
  auto index = pack->is_object() ? pack->find("index") : pack->end();
  const bool ok = pack->is_object() && role != pack->end() &&
                  index != pack->end() && index->is_number_unsigned() &&
                  (*role == "data" || *role == "parity") &&
                  index->get<uint64_t>() >= 1 && index->get<uint64_t>() <= 255;
  if (!ok) {
    return Status::InvalidArgument(
        std::string(name), "drive '" + d->label +
                               "': 'pack' is not {\"role\": \"data\" or "
                               "\"parity\", \"index\": 1 to 255}");
  }
  d->pack_role = *role == "data" ? PackRole::kData : PackRole::kParity;
  d->pack_index = index->get<uint32_t>();
  if (d->pack_role == PackRole::kParity && !d->runs.empty()) {
    return Status::InvalidArgument(
        std::string(name),
        "drive '" + d->label + "': a parity drive holds no manifest entries");
  }
  return Status::OK();
}

Status ParseDrive(const Json& j, uint64_t entries, std::string_view name,
                  ShipmentDrive* d) {
  if (!j.is_object()) {
    return Status::InvalidArgument(std::string(name),
                                   "a drive is not an object");
  }
  VALISE_RETURN_IF_ERROR(GetStr(j, "label", name, &d->label));
  VALISE_RETURN_IF_ERROR(GetStr(j, "source", name, &d->source));
  VALISE_RETURN_IF_ERROR(GetStr(j, "fs_uuid", name, &d->id.fs_uuid));
  VALISE_RETURN_IF_ERROR(GetStr(j, "fs_label", name, &d->id.fs_label));
  VALISE_RETURN_IF_ERROR(GetStr(j, "fs_type", name, &d->id.fs_type));
  VALISE_RETURN_IF_ERROR(GetStr(j, "serial", name, &d->id.serial));
  VALISE_RETURN_IF_ERROR(GetStr(j, "wwn", name, &d->id.wwn));
  VALISE_RETURN_IF_ERROR(GetStr(j, "model", name, &d->id.model));
  VALISE_RETURN_IF_ERROR(GetStr(j, "device", name, &d->id.device));
  auto whole = j.find("whole");
  d->id.whole = whole != j.end() && whole->is_boolean() && whole->get<bool>();
  VALISE_RETURN_IF_ERROR(GetU64(j, "device_bytes", name, &d->id.device_bytes));
  VALISE_RETURN_IF_ERROR(GetU64(j, "files", name, &d->files));
  VALISE_RETURN_IF_ERROR(GetU64(j, "bytes", name, &d->bytes));
  auto runs = j.find("runs");
  if (runs == j.end() || !runs->is_array()) {
    return Status::InvalidArgument(std::string(name),
                                   "drive '" + d->label + "' has no runs");
  }
  uint64_t next = 0;  // runs ascend and do not touch
  uint64_t total = 0;
  for (const Json& r : *runs) {
    if (!r.is_array() || r.size() != 2 || !r[0].is_number_unsigned() ||
        !r[1].is_number_unsigned()) {
      return Status::InvalidArgument(
          std::string(name),
          "drive '" + d->label + "': a run is not [first, count]");
    }
    const uint64_t first = r[0].get<uint64_t>();
    const uint64_t count = r[1].get<uint64_t>();
    if (count == 0 || first < next || first > entries ||
        count > entries - first || (first == next && next != 0)) {
      return Status::InvalidArgument(
          std::string(name), "drive '" + d->label + "': run [" +
                                 std::to_string(first) + ", " +
                                 std::to_string(count) +
                                 "] is out of order or past the manifest's " +
                                 std::to_string(entries) + " entries");
    }
    d->runs.emplace_back(first, count);
    next = first + count;
    total += count;
  }
  if (total != d->files) {
    return Status::InvalidArgument(
        std::string(name), "drive '" + d->label + "': runs hold " +
                               std::to_string(total) + " entries, files says " +
                               std::to_string(d->files));
  }
  return ParsePackRole(j, name, d);
}

}  // namespace

std::string WriteShipmentDrives(const ShipmentDrives& d) {
  // One drive per line: readable with less, diffable.
  std::string out = "{\"format\": \"" + std::string(kFormatName) +
                    "\", \"version\": " + std::to_string(kVersion) +
                    ", \"entries\": " + std::to_string(d.entries) +
                    ",\n \"drives\": [";
  for (size_t i = 0; i < d.drives.size(); ++i) {
    out += i == 0 ? "\n  " : ",\n  ";
    out += DriveJson(d.drives[i]).dump();
  }
  out += "\n]}\n";
  return out;
}

Status ParseShipmentDrives(std::string_view data, std::string_view name,
                           ShipmentDrives* out) {
  Json j = Json::parse(data.begin(), data.end(), nullptr,
                       /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(std::string(name), "is not JSON");
  }
  auto format = j.find("format");
  if (format == j.end() || *format != kFormatName) {
    return Status::InvalidArgument(std::string(name),
                                   "is not a valise drives file");
  }
  auto version = j.find("version");
  if (version == j.end() || *version != kVersion) {
    return Status::NotSupported(
        std::string(name),
        "drives format version " +
            (version == j.end() ? std::string("?") : version->dump()) +
            " (this valise reads 1)");
  }
  *out = ShipmentDrives();
  VALISE_RETURN_IF_ERROR(GetU64(j, "entries", name, &out->entries));
  auto drives = j.find("drives");
  if (drives == j.end() || !drives->is_array()) {
    return Status::InvalidArgument(std::string(name), "no drives array");
  }
  for (const Json& dj : *drives) {
    ShipmentDrive d;
    VALISE_RETURN_IF_ERROR(ParseDrive(dj, out->entries, name, &d));
    out->drives.push_back(std::move(d));
  }
  return Status::OK();
}

std::vector<std::vector<uint32_t>> HoldersByEntry(const ShipmentDrives& d) {
  std::vector<std::vector<uint32_t>> out(d.entries);
  for (size_t i = 0; i < d.drives.size(); ++i) {
    for (const auto& [first, count] : d.drives[i].runs) {
      for (uint64_t e = first; e < first + count; ++e) {
        out[e].push_back(static_cast<uint32_t>(i));
      }
    }
  }
  return out;
}

std::string DescribeDrive(const ShipmentDrive& d) {
  std::string out = d.label;
  std::string ids;
  auto add = [&](const char* what, const std::string& v) {
    if (v.empty()) return;
    ids += ids.empty() ? "" : ", ";
    ids += what;
    ids += v;
  };
  add("uuid ", d.id.fs_uuid);
  add("serial ", d.id.serial);
  if (ids.empty()) add("from ", d.source);
  return out + " (" + ids + ")";
}

namespace {

// "file system UUID X (label L), serial S": what identifies a SRC.
std::string DescribeIdentity(const DriveIdentity& id) {
  std::string out;
  if (!id.fs_uuid.empty()) {
    out += (id.fs_type.empty() ? "" : id.fs_type + " ") + "file system UUID " +
           id.fs_uuid;
    if (!id.fs_label.empty()) out += " (label '" + id.fs_label + "')";
  }
  if (!id.serial.empty())
    out += (out.empty() ? "" : ", ") + ("serial " + id.serial);
  return out;
}

bool SameDrive(const DriveIdentity& a, const DriveIdentity& b) {
  if (!a.fs_uuid.empty() && a.fs_uuid == b.fs_uuid) return true;
  return !a.serial.empty() && a.serial == b.serial;
}

}  // namespace

Status MatchShipmentDrives(const ShipmentDrives& d,
                           const std::vector<std::string>& sources,
                           const std::vector<DriveIdentity>& ids,
                           std::vector<int>* drive_of, bool twice_only) {
  drive_of->assign(sources.size(), -1);
  for (size_t i = 0; i < sources.size(); ++i) {
    if (!ids[i].Identified()) continue;
    for (size_t j = 0; j < i; ++j) {
      if (ids[j].Identified() && SameDrive(ids[i], ids[j])) {
        return Status::InvalidArgument(
            sources[i], "is the same drive as " + sources[j] + " (" +
                            DescribeIdentity(ids[i]) +
                            "): a drive is given once; drop one of them");
      }
    }
    for (size_t k = 0; k < d.drives.size(); ++k) {
      if (d.drives[k].id.Identified() && SameDrive(ids[i], d.drives[k].id)) {
        (*drive_of)[i] = static_cast<int>(k);
        break;
      }
    }
    if ((*drive_of)[i] < 0 && !twice_only) {
      return Status::InvalidArgument(
          sources[i], DescribeIdentity(ids[i]) +
                          " is not one of the shipment's " +
                          std::to_string(d.drives.size()) +
                          " drives (M.drives): it is another shipment's "
                          "drive, or a reformatted one; leave it out");
    }
  }
  return Status::OK();
}

}  // namespace valise
