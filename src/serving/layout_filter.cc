#include "recship/serving/layout_filter.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>
#include <system_error>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "recship/core/status_macros.h"

namespace recship {
namespace {

using Instruction = LayoutFilter::Instruction;

bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// Runs a program the parser checked; booleans are 0 and 1. Values are never
// negative (no minus, divisors are constants > 0), so '%' cannot trap.
int64_t Evaluate(const std::vector<Instruction>& program, size_t begin, size_t end, int64_t i) {
  std::vector<int64_t> stack;
  stack.reserve(end - begin);
  for (size_t pc = begin; pc < end; ++pc) {
    const Instruction& in = program[pc];
    if (in.op == Instruction::kPush || in.op == Instruction::kPushI) {
      stack.push_back(in.op == Instruction::kPush ? in.value : i);
      continue;
    }
    if (stack.size() < 2) return 0;  // not a program the parser makes
    int64_t b = stack.back();
    stack.pop_back();
    int64_t a = stack.back();
    int64_t& r = stack.back();
    switch (in.op) {
      case Instruction::kMod:
        r = b > 0 ? a % b : 0;
        break;
      case Instruction::kEq:
        r = a == b;
        break;
      case Instruction::kNe:
        r = a != b;
        break;
      case Instruction::kLt:
        r = a < b;
        break;
      case Instruction::kLe:
        r = a <= b;
        break;
      case Instruction::kGt:
        r = a > b;
        break;
      case Instruction::kGe:
        r = a >= b;
        break;
      case Instruction::kAnd:
        r = (a != 0) && (b != 0);
        break;
      case Instruction::kOr:
        r = (a != 0) || (b != 0);
        break;
      case Instruction::kPush:
      case Instruction::kPushI:
        break;
    }
  }
  return stack.size() == 1 ? stack.back() : 0;
}

struct Token {
  enum Kind { kInteger, kName, kOperator, kOpen, kClose, kEnd };
  Kind kind = kEnd;
  std::string text;
  size_t column = 0;  // 1-based, in the whole filter
};

enum class Type { kNumber, kCondition };

// Recursive descent over the condition's tokens, emitting a stack program.
// Recursion happens only at '(' and is bounded by kMaxNesting.
class ConditionParser {
 public:
  ConditionParser(absl::string_view filter, std::vector<Token> tokens)
      : filter_(filter), tokens_(std::move(tokens)) {}

  absl::StatusOr<std::vector<Instruction>> Parse() {
    const Token& first = Peek();
    RECSHIP_ASSIGN_OR_RETURN(Type type, Or(0));
    const Token& rest = Peek();
    if (rest.kind != Token::kEnd) {
      if (IsComparison(rest)) {
        return Error(rest, "comparisons do not chain; join them with 'and'");
      }
      if (rest.kind == Token::kClose) return Error(rest, "this ')' closes no '('");
      return Error(rest, "expected 'and', 'or', '%', a comparison or the end");
    }
    if (type != Type::kCondition) {
      return Error(first, "the condition is a number, not a comparison (e.g. 'i % 2 == 0')");
    }
    return std::move(program_);
  }

  static absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view filter, size_t begin) {
    std::vector<Token> tokens;
    size_t pos = begin;
    auto error = [&](size_t at, size_t length, absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("layout filter '", filter, "': column ",
                                                     at + 1, ", '", filter.substr(at, length),
                                                     "': ", what));
    };
    while (pos < filter.size()) {
      char c = filter[pos];
      if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
        ++pos;
        continue;
      }
      Token token;
      token.column = pos + 1;
      size_t end = pos + 1;
      if (IsDigit(c)) {
        token.kind = Token::kInteger;
        while (end < filter.size() && IsDigit(filter[end])) ++end;
        if (end < filter.size() && IsNameChar(filter[end])) {
          while (end < filter.size() && IsNameChar(filter[end])) ++end;
          return error(pos, end - pos, "not a number");
        }
      } else if (IsNameChar(c)) {
        token.kind = Token::kName;
        while (end < filter.size() && IsNameChar(filter[end])) ++end;
      } else if (c == '(' || c == ')') {
        token.kind = c == '(' ? Token::kOpen : Token::kClose;
      } else {
        token.kind = Token::kOperator;
        absl::string_view two = filter.substr(pos, 2);
        if (two == "==" || two == "!=" || two == "<=" || two == ">=" || two == "&&" ||
            two == "||") {
          end = pos + 2;
        } else if (c == '<' || c == '>' || c == '%') {
          // one character
        } else if (c == '=') {
          return error(pos, 1, "'=' assigns nothing here; compare with '=='");
        } else {
          return error(pos, 1,
                       "unexpected character; a condition has integers, i, %, == != < <= > >=, "
                       "and/&&, or/||, and parentheses");
        }
      }
      token.text = std::string(filter.substr(pos, end - pos));
      tokens.push_back(std::move(token));
      pos = end;
    }
    Token end_token;
    end_token.column = filter.size() + 1;
    tokens.push_back(end_token);
    return tokens;
  }

 private:
  static bool IsOr(const Token& t) {
    return (t.kind == Token::kName && t.text == "or") ||
           (t.kind == Token::kOperator && t.text == "||");
  }
  static bool IsAnd(const Token& t) {
    return (t.kind == Token::kName && t.text == "and") ||
           (t.kind == Token::kOperator && t.text == "&&");
  }
  static bool IsComparison(const Token& t) {
    return t.kind == Token::kOperator && (t.text == "==" || t.text == "!=" || t.text == "<" ||
                                          t.text == "<=" || t.text == ">" || t.text == ">=");
  }
  static Instruction::Op ComparisonOp(const std::string& text) {
    if (text == "==") return Instruction::kEq;
    if (text == "!=") return Instruction::kNe;
    if (text == "<") return Instruction::kLt;
    if (text == "<=") return Instruction::kLe;
    if (text == ">") return Instruction::kGt;
    return Instruction::kGe;
  }

  const Token& Peek() const { return tokens_[next_]; }
  const Token& Next() {
    const Token& t = tokens_[next_];
    if (t.kind != Token::kEnd) ++next_;
    return t;
  }
  void Emit(Instruction::Op op, int64_t value = 0) { program_.push_back({op, value}); }

  absl::Status Error(const Token& at, absl::string_view what) const {
    std::string found = at.kind == Token::kEnd ? "at the end" : absl::StrCat("'", at.text, "'");
    return absl::InvalidArgumentError(
        absl::StrCat("layout filter '", filter_, "': column ", at.column, ", ", found, ": ", what));
  }

  // `a OP b` where both sides are conditions (OP: and, or).
  absl::Status CheckLogical(const Token& op, Type left, Type right) const {
    if (left != Type::kCondition || right != Type::kCondition) {
      return Error(op, absl::StrCat("joins conditions, but its ",
                                    left != Type::kCondition ? "left" : "right",
                                    " side is a number (compare it, e.g. 'i % 2 == 0')"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Type> Or(int depth) {
    RECSHIP_ASSIGN_OR_RETURN(Type left, And(depth));
    while (IsOr(Peek())) {
      const Token& op = Next();
      RECSHIP_ASSIGN_OR_RETURN(Type right, And(depth));
      RECSHIP_RETURN_IF_ERROR(CheckLogical(op, left, right));
      Emit(Instruction::kOr);
    }
    return left;
  }

  absl::StatusOr<Type> And(int depth) {
    RECSHIP_ASSIGN_OR_RETURN(Type left, Comparison(depth));
    while (IsAnd(Peek())) {
      const Token& op = Next();
      RECSHIP_ASSIGN_OR_RETURN(Type right, Comparison(depth));
      RECSHIP_RETURN_IF_ERROR(CheckLogical(op, left, right));
      Emit(Instruction::kAnd);
    }
    return left;
  }

  absl::StatusOr<Type> Comparison(int depth) {
    RECSHIP_ASSIGN_OR_RETURN(Type left, Mod(depth));
    if (!IsComparison(Peek())) return left;
    const Token& op = Next();
    RECSHIP_ASSIGN_OR_RETURN(Type right, Mod(depth));
    if (left != Type::kNumber || right != Type::kNumber) {
      return Error(
          op, absl::StrCat("compares numbers, but its ", left != Type::kNumber ? "left" : "right",
                           " side is a condition"));
    }
    Emit(ComparisonOp(op.text));
    return Type::kCondition;
  }

  absl::StatusOr<Type> Mod(int depth) {
    RECSHIP_ASSIGN_OR_RETURN(Type left, Atom(depth));
    while (Peek().kind == Token::kOperator && Peek().text == "%") {
      const Token& op = Next();
      size_t divisor_begin = program_.size();
      RECSHIP_ASSIGN_OR_RETURN(Type right, Atom(depth));
      if (left != Type::kNumber || right != Type::kNumber) {
        return Error(
            op, absl::StrCat("takes numbers, but its ", left != Type::kNumber ? "left" : "right",
                             " side is a condition"));
      }
      bool uses_i =
          std::any_of(program_.begin() + static_cast<std::ptrdiff_t>(divisor_begin), program_.end(),
                      [](const Instruction& in) { return in.op == Instruction::kPushI; });
      if (uses_i) return Error(op, "its right side must be a constant, not use i");
      int64_t divisor = Evaluate(program_, divisor_begin, program_.size(), 0);
      if (divisor <= 0) return Error(op, "its right side is 0 (division by zero)");
      program_.resize(divisor_begin);
      Emit(Instruction::kPush, divisor);
      Emit(Instruction::kMod);
    }
    return left;
  }

  absl::StatusOr<Type> Atom(int depth) {
    const Token& t = Next();
    switch (t.kind) {
      case Token::kInteger: {
        int64_t value = 0;
        if (!absl::SimpleAtoi(t.text, &value)) return Error(t, "the number is too large");
        Emit(Instruction::kPush, value);
        return Type::kNumber;
      }
      case Token::kName:
        if (t.text == "i") {
          Emit(Instruction::kPushI);
          return Type::kNumber;
        }
        if (t.text == "and" || t.text == "or") break;
        return Error(t, "unknown name; the condition knows only i");
      case Token::kOpen: {
        if (depth >= LayoutFilter::kMaxNesting) {
          return Error(
              t, absl::StrCat("parentheses nest more than ", LayoutFilter::kMaxNesting, " deep"));
        }
        RECSHIP_ASSIGN_OR_RETURN(Type inner, Or(depth + 1));
        const Token& close = Next();
        if (close.kind != Token::kClose) {
          return Error(close, absl::StrCat("expected ')' to close the '(' at column ", t.column));
        }
        return inner;
      }
      case Token::kClose:
      case Token::kOperator:
      case Token::kEnd:
        break;
    }
    return Error(t, "expected a number, i or '('");
  }

  absl::string_view filter_;
  std::vector<Token> tokens_;
  size_t next_ = 0;
  std::vector<Instruction> program_;
};

// Lists entry first, then ps_<i>, then dense_<i>, each by i.
bool ListedBefore(const SubModel& a, const SubModel& b) {
  if (a.is_entry() != b.is_entry()) return a.is_entry();
  return a < b;
}

}  // namespace

absl::StatusOr<LayoutFilter> LayoutFilter::Parse(absl::string_view text) {
  LayoutFilter filter;
  filter.text_ = std::string(text);
  auto error = [&](size_t at, absl::string_view token, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("layout filter '", text, "': column ", at + 1,
                                                   token.empty() ? "" : ", '", token,
                                                   token.empty() ? "" : "'", ": ", what));
  };
  size_t semicolon = std::min(text.find(';'), text.size());
  size_t begin = 0;
  while (begin < semicolon && absl::ascii_isspace(static_cast<unsigned char>(text[begin]))) {
    ++begin;
  }
  size_t end = semicolon;
  while (end > begin && absl::ascii_isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  if (begin == end) {
    return error(begin, "",
                 "the pattern is empty; expected a sub-model name such as entry or ps_{i}");
  }
  for (size_t pos = begin; pos < end; ++pos) {
    char c = text[pos];
    if (IsNameChar(c)) {
      (filter.has_number_ ? filter.suffix_ : filter.prefix_) += c;
    } else if (text.substr(pos, 3) == "{i}" && pos + 3 <= end) {
      if (filter.has_number_) return error(pos, "{i}", "the pattern may hold {i} only once");
      filter.has_number_ = true;
      pos += 2;
    } else if (c == '{') {
      size_t close = text.find('}', pos);
      size_t length = close == absl::string_view::npos || close >= end ? 1 : close - pos + 1;
      return error(pos, text.substr(pos, length), "only {i} may stand for a number");
    } else {
      return error(pos, text.substr(pos, 1),
                   "a pattern holds letters, digits, '_' and {i} (a condition goes after ';')");
    }
  }
  if (semicolon == text.size()) return filter;

  size_t condition_begin = semicolon + 1;
  while (condition_begin < text.size() &&
         absl::ascii_isspace(static_cast<unsigned char>(text[condition_begin]))) {
    ++condition_begin;
  }
  if (condition_begin == text.size()) {
    return error(semicolon, ";", "expected a condition over i after ';'");
  }
  if (!filter.has_number_) {
    return error(semicolon, ";", "a condition needs {i} in the pattern");
  }
  RECSHIP_ASSIGN_OR_RETURN(std::vector<Token> tokens,
                           ConditionParser::Tokenize(text, condition_begin));
  ConditionParser parser(text, std::move(tokens));
  RECSHIP_ASSIGN_OR_RETURN(filter.condition_, parser.Parse());
  return filter;
}

bool LayoutFilter::Matches(absl::string_view name) const {
  if (!has_number_) return name == prefix_;
  if (name.size() <= prefix_.size() + suffix_.size()) return false;
  if (!absl::StartsWith(name, prefix_) || !absl::EndsWith(name, suffix_)) return false;
  std::optional<int64_t> i = ParseSubModelIndex(
      name.substr(prefix_.size(), name.size() - prefix_.size() - suffix_.size()));
  if (!i) return false;
  return condition_.empty() || Evaluate(condition_, 0, condition_.size(), *i) != 0;
}

absl::StatusOr<std::vector<SubModel>> ListLayoutSubModels(const std::string& base_path) {
  std::error_code ec;
  std::filesystem::directory_iterator it(base_path, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("cannot list layout base path ", base_path, ": ", ec.message()));
  }
  std::vector<SubModel> found;
  for (const auto& entry : it) {
    std::optional<SubModel> sub = SubModel::Parse(entry.path().filename().string());
    if (sub && !sub->is_standalone() && entry.is_directory(ec)) found.push_back(*sub);
  }
  std::sort(found.begin(), found.end(), ListedBefore);
  return found;
}

absl::StatusOr<tensorflow::serving::ModelServerConfig> LayoutModelServerConfig(
    const std::string& base_path, const std::string& model_name,
    const std::vector<LayoutFilter>& filters) {
  if (model_name.empty()) {
    return absl::InvalidArgumentError(
        "serving a layout needs the model's name (its entry calls <name>:ps_<i>)");
  }
  RECSHIP_ASSIGN_OR_RETURN(std::vector<SubModel> sub_models, ListLayoutSubModels(base_path));
  if (sub_models.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no sub-model (entry, ps_<i>, dense_<i>) under ", base_path));
  }
  tensorflow::serving::ModelServerConfig config;
  std::vector<std::string> names;
  for (const SubModel& sub_model : sub_models) {
    std::string name = sub_model.name();
    names.push_back(name);
    bool chosen =
        filters.empty() || std::any_of(filters.begin(), filters.end(),
                                       [&](const LayoutFilter& f) { return f.Matches(name); });
    if (!chosen) continue;
    auto* model = config.mutable_model_config_list()->add_config();
    model->set_name(sub_model.ServedName(model_name));
    model->set_base_path((std::filesystem::path(base_path) / name).string());
    model->set_model_platform("tensorflow");
    model->mutable_model_version_policy()->mutable_latest()->set_num_versions(1);
  }
  if (config.model_config_list().config_size() == 0) {
    std::vector<std::string> quoted;
    for (const LayoutFilter& f : filters) quoted.push_back(absl::StrCat("'", f.text(), "'"));
    return absl::NotFoundError(absl::StrCat(
        "no sub-model under ", base_path, " matches the layout filters ",
        absl::StrJoin(quoted, ", "), "; sub-models found: ", absl::StrJoin(names, ", ")));
  }
  return config;
}

}  // namespace recship
