#pragma once
// What a benchmark scenario hands back: facts about the run (device, dtype,
// model, ...), one row per measurement, and notes; printed as an aligned table
// for people or as one JSON object (`baton bench ... --json`).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace baton::bench {

class BenchReport {
 public:
  // How a column's value is printed in the table (JSON keeps the raw value).
  enum class Format { kText, kInteger, kMs, kSeconds, kGiB, kFixed1, kFixed2, kRatio, kScientific };

  explicit BenchReport(std::string scenario);

  const std::string& scenario() const { return scenario_; }
  // Facts about the run, copied into the JSON object's top level.
  nlohmann::json& info() { return info_; }
  const nlohmann::json& info() const { return info_; }
  // A line printed above the table.
  void add_line(const std::string& line) { lines_.push_back(line); }
  void add_column(const std::string& key, const std::string& title, Format format);
  // A row: values by column key; a row with "error" prints it instead of the
  // columns it lacks.
  void add_row(nlohmann::json row) { rows_.push_back(std::move(row)); }
  const std::vector<nlohmann::json>& rows() const { return rows_; }
  void add_note(const std::string& note) { notes_.push_back(note); }
  // A measurement that should have worked did not (`baton bench` exits 1).
  void mark_failed() { failed_ = true; }
  bool failed() const { return failed_; }

  std::string table() const;
  // {"benchmark": scenario, <info>, "results": [rows], "notes": [...]}
  nlohmann::json json() const;

 private:
  struct Column {
    std::string key, title;
    Format format;
  };
  std::string scenario_;
  nlohmann::json info_ = nlohmann::json::object();
  std::vector<std::string> lines_;
  std::vector<Column> columns_;
  std::vector<nlohmann::json> rows_;
  std::vector<std::string> notes_;
  bool failed_ = false;
};

}  // namespace baton::bench
