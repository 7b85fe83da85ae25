// One row of the JSON report's "files" array (report.cc, docs/report.md).
// AppendFileRow writes the text itself for the rows nearly every report is
// made of (no ranges, no chunk lists) and goes through the JSON library's
// object for the others; FileRowByObject is that object, dumped: both give
// the same bytes for every row (report_test's JsonRow.*), so a field added
// to the object and not to the text fails that test.
#pragma once

#include <string>

#include "valise/report.h"

namespace valise {

// Appends row `f` of report `r` to *out, as JSON text on one line.
void AppendFileRow(const RunReport& r, const FileResult& f, std::string* out);
// The same row built as a JSON object and dumped.
std::string FileRowByObject(const RunReport& r, const FileResult& f);

}  // namespace valise
