// TinyModelTest: a test fixture holding the tiny model (tiny_model.h),
// version 1 written under a temporary folder and loaded, for the tests that
// run requests on it.
#ifndef RECSHIP_TESTS_CPP_TINY_MODEL_TEST_H_
#define RECSHIP_TESTS_CPP_TINY_MODEL_TEST_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "recship/runtime/saved_model_bundle.h"
#include "test_util.h"
#include "tiny_model.h"

namespace recship::testing {

class TinyModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::string path, WriteTinyVersion(dir_.Join("m"), 1));
    ASSERT_OK_AND_ASSIGN(model_, SavedModelBundle::Load(path));
  }

  TempDir dir_;
  std::unique_ptr<SavedModelBundle> model_;
};

}  // namespace recship::testing

#endif  // RECSHIP_TESTS_CPP_TINY_MODEL_TEST_H_
