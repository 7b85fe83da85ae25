// valise_e2e_json: a tiny JSON query tool for the end-to-end shell tests,
// so they can check `valise verify --json` reports without depending on jq
// or python. Not installed; built beside the tests.
//
//   valise_e2e_json FILE check               exit 0 if FILE parses
//   valise_e2e_json FILE get PATH            the value at PATH
//   valise_e2e_json FILE rows ARRAY FIELD... one tab-separated line per
//                                            element of the array at ARRAY
//   valise_e2e_json FILE len PATH            the length of an array/object
//
// FILE "-" is stdin. PATH is dot-separated keys, with numbers indexing
// arrays ("files.0.status"); "" or "." is the root. Strings print raw
// (no quotes), other values as compact JSON; a missing field in `rows`
// prints "-". Exit status: 0 ok, 1 PATH not found, 2 usage or parse error.
//
// Thread safety: single-threaded program.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

// Follows a dot-separated PATH from `root`; nullptr if any step is absent.
const json* Lookup(const json& root, const std::string& path) {
  const json* node = &root;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (part.empty()) continue;
    if (node->is_object()) {
      auto it = node->find(part);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      char* end = nullptr;
      unsigned long i = std::strtoul(part.c_str(), &end, 10);
      if (*end != '\0' || i >= node->size()) return nullptr;
      node = &(*node)[i];
    } else {
      return nullptr;
    }
  }
  return node;
}

std::string Render(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

int Usage() {
  std::cerr << "usage: valise_e2e_json FILE check|get PATH|len PATH|"
               "rows ARRAY FIELD...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  const std::string file = argv[1];
  const std::string op = argv[2];
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << "valise_e2e_json: " << file << ": cannot open\n";
      return 2;
    }
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  // allow_exceptions=false: a parse error yields a "discarded" value
  // rather than an exception, so no try/catch is needed.
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    std::cerr << "valise_e2e_json: " << file << ": not valid JSON\n";
    return 2;
  }
  if (op == "check") return 0;
  if (argc < 4) return Usage();
  const json* node = Lookup(doc, argv[3]);
  if (node == nullptr) {
    std::cerr << "valise_e2e_json: " << file << ": no " << argv[3] << "\n";
    return 1;
  }
  if (op == "get") {
    std::cout << Render(*node) << "\n";
    return 0;
  }
  if (op == "len") {
    std::cout << node->size() << "\n";
    return 0;
  }
  if (op == "rows") {
    if (!node->is_array()) {
      std::cerr << "valise_e2e_json: " << argv[3] << " is not an array\n";
      return 2;
    }
    for (const json& elem : *node) {
      for (int f = 4; f < argc; ++f) {
        const json* v = Lookup(elem, argv[f]);
        if (f > 4) std::cout << '\t';
        std::cout << (v == nullptr ? std::string("-") : Render(*v));
      }
      std::cout << "\n";
    }
    return 0;
  }
  return Usage();
}
