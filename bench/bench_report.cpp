#include "bench/bench_report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace baton::bench {
namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string cell(const nlohmann::json& v, BenchReport::Format f) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_number()) return v.dump();
  const double x = v.get<double>();
  switch (f) {
    case BenchReport::Format::kText:
    case BenchReport::Format::kInteger: return v.is_number_integer() ? std::to_string(v.get<int64_t>()) : fixed(x, 0);
    case BenchReport::Format::kMs: return fixed(x, x < 10 ? 3 : 2);
    case BenchReport::Format::kSeconds: return fixed(x, 3);
    case BenchReport::Format::kGiB: return fixed(x / 1073741824.0, 3);
    case BenchReport::Format::kFixed1: return fixed(x, 1);
    case BenchReport::Format::kFixed2: return fixed(x, 2);
    case BenchReport::Format::kRatio: return fixed(x, 3);
    case BenchReport::Format::kScientific: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2e", x);
      return buf;
    }
  }
  return v.dump();
}

}  // namespace

BenchReport::BenchReport(std::string scenario) : scenario_(std::move(scenario)) {}

void BenchReport::add_column(const std::string& key, const std::string& title, Format format) {
  columns_.push_back({key, title, format});
}

std::string BenchReport::table() const {
  std::ostringstream out;
  for (const auto& l : lines_) out << l << "\n";
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> errors;
  std::vector<std::string> header;
  for (const auto& c : columns_) header.push_back(c.title);
  cells.push_back(header);
  errors.emplace_back();
  for (const auto& row : rows_) {
    std::vector<std::string> r;
    const bool failed = row.contains("error");
    for (const auto& c : columns_)
      r.push_back(row.contains(c.key) ? cell(row.at(c.key), c.format) : failed ? "" : "-");
    cells.push_back(r);
    errors.push_back(failed ? "n/a: " + row.at("error").get<std::string>() : "");
  }
  std::vector<size_t> width(columns_.size(), 0);
  for (const auto& r : cells)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (size_t k = 0; k < cells.size(); ++k) {
    std::string line;
    for (size_t i = 0; i < cells[k].size(); ++i) {
      const bool right = columns_[i].format != Format::kText;
      const std::string& s = cells[k][i];
      const std::string pad(width[i] - s.size(), ' ');
      line += (i ? "  " : "") + (right ? pad + s : s + pad);
    }
    if (!errors[k].empty()) line += "  " + errors[k];
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
  for (const auto& n : notes_) out << "note: " << n << "\n";
  return out.str();
}

nlohmann::json BenchReport::json() const {
  nlohmann::json j = {{"benchmark", scenario_}};
  for (auto it = info_.begin(); it != info_.end(); ++it) j[it.key()] = it.value();
  j["results"] = rows_;
  j["notes"] = notes_;
  return j;
}

}  // namespace baton::bench
