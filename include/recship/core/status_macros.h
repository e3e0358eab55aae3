// Macros for propagating absl::Status, in the style of TensorFlow's
// TF_RETURN_IF_ERROR and TF_ASSIGN_OR_RETURN. The Abseil in Debian 12 does not
// ship public ones.
#ifndef RECSHIP_CORE_STATUS_MACROS_H_
#define RECSHIP_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RECSHIP_CONCAT_INNER_(a, b) a##b
#define RECSHIP_CONCAT_(a, b) RECSHIP_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` yields a non-OK status.
#define RECSHIP_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::absl::Status recship_status_ = (expr);           \
    if (!recship_status_.ok()) return recship_status_; \
  } while (0)

// `RECSHIP_ASSIGN_OR_RETURN(auto x, StatusOrExpr())` declares x from the value, or
// returns the error status from the enclosing function.
#define RECSHIP_ASSIGN_OR_RETURN(lhs, expr) \
  RECSHIP_ASSIGN_OR_RETURN_IMPL_(RECSHIP_CONCAT_(recship_statusor_, __LINE__), lhs, expr)

#define RECSHIP_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return statusor.status();             \
  lhs = std::move(statusor).value()

#endif  // RECSHIP_CORE_STATUS_MACROS_H_
