// The -Y file parser and the credential check: memcached's "user:password" format.
#include "security/authfile.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace memshield::security {
namespace {

TEST(AuthFile, ParsesUserPasswordLines) {
  AuthFile f;
  std::string error;
  ASSERT_TRUE(AuthFile::parse("alice:secret\nbob:pw2\ncarol:a:b", "f", &f, &error)) << error;
  EXPECT_EQ(f.size(), 3u);
  EXPECT_TRUE(f.check("alice", "secret"));
  EXPECT_TRUE(f.check("bob", "pw2"));
  EXPECT_TRUE(f.check("carol", "a:b"));  // split at the first ':'
  EXPECT_FALSE(f.check("alice", "pw2"));
  EXPECT_FALSE(f.check("alice", "secre"));
  EXPECT_FALSE(f.check("alice", "secret "));
  EXPECT_FALSE(f.check("carol", "a"));
  EXPECT_FALSE(f.check("mallory", "secret"));
  EXPECT_FALSE(f.check("", ""));
}

TEST(AuthFile, EmptyFieldsAndEmptyFile) {
  AuthFile f;
  std::string error;
  ASSERT_TRUE(AuthFile::parse(":x\ny:\n", "f", &f, &error));
  EXPECT_TRUE(f.check("", "x"));
  EXPECT_TRUE(f.check("y", ""));
  ASSERT_TRUE(AuthFile::parse("", "f", &f, &error));
  EXPECT_EQ(f.size(), 0u);
  EXPECT_FALSE(f.check("y", ""));
}

TEST(AuthFile, MalformedLinesRejected) {
  for (const char* text : {"nocolon\n", "a:b\r\n", "a:b\n\nc:d\n", "\n", "a:b\nc"}) {
    AuthFile f;
    std::string error;
    EXPECT_FALSE(AuthFile::parse(text, "/etc/x", &f, &error)) << text;
    EXPECT_EQ(error, "Authfile [/etc/x] has a malformed entry. Should be 'user:password'");
    EXPECT_EQ(f.size(), 0u);
  }
}

TEST(AuthFile, LoadsFromDisk) {
  std::string path = testing::TempDir() + "authfile_test.txt";
  FILE* fp = fopen(path.c_str(), "w");
  ASSERT_NE(fp, nullptr);
  fputs("alice:secret\n", fp);
  fclose(fp);
  std::shared_ptr<const AuthFile> t;
  std::string error;
  ASSERT_TRUE(AuthFile::load(path, &t, &error)) << error;
  EXPECT_TRUE(t->check("alice", "secret"));
  remove(path.c_str());
  EXPECT_FALSE(AuthFile::load(path, &t, &error));
  EXPECT_EQ(error, "Could not open authfile [" + path +
                       "] for reading, error No such file or directory: No such file or "
                       "directory");
}

}  // namespace
}  // namespace memshield::security
