#include "lottery/common/json.h"

#include <string>

#include "gtest/gtest.h"

namespace lottery::json {
namespace {

TEST(JsonTest, ParseObjectRefusesWhatIsNotAnObject) {
  EXPECT_TRUE(ParseObject(R"({"a":1})").ok());
  EXPECT_EQ(ParseObject("{").status().message(), "is not JSON");
  EXPECT_EQ(ParseObject("[1]").status().message(), "is not a JSON object");
  EXPECT_EQ(ParseObject("").status().message(), "is not JSON");
}

TEST(JsonTest, GetChecksTypesAndPresence) {
  Json j = *ParseObject(R"({"s":"x","i":-3,"u":7,"b":true,"big":18446744073709551615})");
  std::string s;
  int64_t i = 0;
  uint64_t u = 0;
  bool b = false;
  EXPECT_TRUE(Get(j, "s", s).ok());
  EXPECT_EQ(s, "x");
  EXPECT_TRUE(Get(j, "i", i).ok());
  EXPECT_EQ(i, -3);
  EXPECT_TRUE(Get(j, "u", u).ok());
  EXPECT_EQ(u, 7u);
  EXPECT_TRUE(Get(j, "u", i).ok());  // a non-negative integer is an int64 too
  EXPECT_TRUE(Get(j, "b", b).ok());
  EXPECT_TRUE(b);
  EXPECT_EQ(Get(j, "i", u).message(), "i is not a non-negative integer");
  EXPECT_EQ(Get(j, "s", i).message(), "s is not an integer");
  EXPECT_EQ(Get(j, "i", s).message(), "i is not a string");
  EXPECT_EQ(Get(j, "big", i).message(), "big is out of range");
  EXPECT_TRUE(Get(j, "missing", s).ok());  // optional: left alone
  EXPECT_EQ(s, "x");
  EXPECT_EQ(Get(j, "missing", s, true).message(), "has no missing");
}

TEST(JsonTest, DumpKeepsOrderEscapesAndReplacesBadUtf8) {
  Json j{{"z", 1}, {"a", "q\"\n\x01"}, {"bad", std::string("\xff")}};
  EXPECT_EQ(Dump(j), "{\"z\":1,\"a\":\"q\\\"\\n\\u0001\",\"bad\":\"\xEF\xBF\xBD\"}");
  EXPECT_TRUE(IsJson(Dump(j)));
  EXPECT_FALSE(IsJson("{\"a\":"));
}

}  // namespace
}  // namespace lottery::json
