// Small helpers for absl::Status that Debian's abseil 20220623 does not ship.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LOTTERY_STATUS_CONCAT_INNER_(a, b) a##b
#define LOTTERY_STATUS_CONCAT_(a, b) LOTTERY_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                                   \
  do {                                                          \
    if (absl::Status _lottery_st = (expr); !_lottery_st.ok()) { \
      return _lottery_st;                                       \
    }                                                           \
  } while (0)

// ASSIGN_OR_RETURN(auto x, StatusOrExpr()): declares/assigns the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(LOTTERY_STATUS_CONCAT_(_lottery_sor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)   \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = std::move(tmp).value()
