#include "lottery/writer/skip_labels.h"

namespace lottery::writer {

std::string SkipLabels::LabelFor(std::string_view event_type) {
  // Sanitized text is printable ASCII with backslashes as \x5c; only '"' needs escaping.
  std::string label;
  for (char c : event_type.substr(0, 64)) {
    if (c == '"')
      label += "\\x22";
    else
      label.push_back(c);
  }
  if (known_.contains(label)) return label;
  if (known_.size() >= max_types_) return std::string(kOther);
  known_.insert(label);
  return label;
}

}  // namespace lottery::writer
