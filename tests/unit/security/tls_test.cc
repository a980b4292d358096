// TLS contexts and streams: certificate loading errors worded as memcached words them, and real
// handshakes (server TlsStream against an OpenSSL client) over a non-blocking socketpair.
// Keys and certificates are generated at test time into a temporary directory.
#include "security/tls.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace memshield::security {
namespace {

namespace fs = std::filesystem;

struct KeyAndCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
};

// A P-256 key and a certificate for `cn`, signed by `issuer` (self-signed when null: a CA).
KeyAndCert make_cert(const char* cn, const KeyAndCert* issuer, long serial) {
  KeyAndCert kc;
  kc.key = EVP_EC_gen("P-256");
  kc.cert = X509_new();
  X509_set_version(kc.cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(kc.cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(kc.cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(kc.cert), 3600);
  X509_set_pubkey(kc.cert, kc.key);
  X509_NAME* name = X509_get_subject_name(kc.cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  if (issuer == nullptr) {
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(kc.cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  const KeyAndCert& signer = issuer != nullptr ? *issuer : kc;
  X509_set_issuer_name(kc.cert, X509_get_subject_name(signer.cert));
  X509_sign(kc.cert, signer.key, EVP_sha256());
  return kc;
}

void free_cert(KeyAndCert& kc) {
  X509_free(kc.cert);
  EVP_PKEY_free(kc.key);
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/memshield-tls-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ca_ = make_cert("memshield test CA", nullptr, 1);
    server_ = make_cert("localhost", &ca_, 2);
    client_ = make_cert("client", &ca_, 3);
    other_ = make_cert("other", nullptr, 4);
    write_cert(ca_, "ca.pem");
    write_cert(server_, "server.pem");
    write_key(server_, "server.key");
    write_cert(client_, "client.pem");
    write_key(client_, "client.key");
    write_key(other_, "other.key");
    // Key and chain in one file.
    write_cert(server_, "combined.pem");
    FILE* f = fopen(path("combined.pem").c_str(), "a");
    PEM_write_PrivateKey(f, server_.key, nullptr, nullptr, 0, nullptr, nullptr);
    fclose(f);
    // The server key in DER.
    f = fopen(path("server.der").c_str(), "wb");
    i2d_PrivateKey_fp(f, server_.key);
    fclose(f);
    std::ofstream(path("garbage.pem")) << "not a certificate\n";
  }
  void TearDown() override {
    free_cert(ca_);
    free_cert(server_);
    free_cert(client_);
    free_cert(other_);
    fs::remove_all(dir_);
  }

  std::string path(const char* name) const { return dir_ + "/" + name; }
  void write_cert(const KeyAndCert& kc, const char* name) {
    FILE* f = fopen(path(name).c_str(), "w");
    ASSERT_NE(f, nullptr);
    PEM_write_X509(f, kc.cert);
    fclose(f);
  }
  void write_key(const KeyAndCert& kc, const char* name) {
    FILE* f = fopen(path(name).c_str(), "w");
    ASSERT_NE(f, nullptr);
    PEM_write_PrivateKey(f, kc.key, nullptr, nullptr, 0, nullptr, nullptr);
    fclose(f);
  }
  TlsOptions options() const {
    TlsOptions o;
    o.chain_cert = path("server.pem");
    o.key = path("server.key");
    return o;
  }
  std::string create_error(const TlsOptions& o) {
    std::string error;
    std::shared_ptr<TlsContext> ctx = TlsContext::create(o, &error);
    EXPECT_EQ(ctx, nullptr);
    EXPECT_EQ(ERR_peek_error(), 0u) << "the error queue must be left empty";
    return error;
  }

  std::string dir_;
  KeyAndCert ca_, server_, client_, other_;
};

TEST(TlsVersion, NamesAndNumbers) {
  EXPECT_STREQ(tls_version_name(0), "tlsv1.0");
  EXPECT_STREQ(tls_version_name(2), "tlsv1.2");
  EXPECT_STREQ(tls_version_name(3), "tlsv1.3");
  EXPECT_EQ(tls_version_number("tlsv1.1"), 1);
  EXPECT_EQ(tls_version_number("tlsv1.3"), 3);
  EXPECT_EQ(tls_version_number("TLSv1.3"), -1);
  EXPECT_EQ(tls_version_number("3"), -1);
}

TEST_F(TlsTest, LoadsCertificateAndKey) {
  std::string error;
  EXPECT_NE(TlsContext::create(options(), &error), nullptr) << error;
  TlsOptions o = options();
  o.key.clear();
  o.chain_cert = path("combined.pem");  // the key may sit in the chain file
  EXPECT_NE(TlsContext::create(o, &error), nullptr) << error;
  o = options();
  o.key = path("server.der");
  o.key_format = 2;  // SSL_FILETYPE_ASN1
  EXPECT_NE(TlsContext::create(o, &error), nullptr) << error;
  o = options();
  o.ca_cert = path("ca.pem");
  o.verify_mode = 2;
  o.min_version = 3;
  o.ciphers = "HIGH:!aNULL";
  EXPECT_NE(TlsContext::create(o, &error), nullptr) << error;
}

TEST_F(TlsTest, MissingOrBrokenFilesAreNamed) {
  TlsOptions o = options();
  o.chain_cert.clear();
  EXPECT_EQ(create_error(o).rfind("Error loading the certificate chain: (null) : ", 0), 0u);

  o = options();
  o.chain_cert = path("nope.pem");
  std::string e = create_error(o);
  EXPECT_EQ(e.rfind("Error loading the certificate chain: " + o.chain_cert + " : error:", 0), 0u)
      << e;
  EXPECT_NE(e.find("No such file or directory"), std::string::npos) << e;

  o = options();
  o.chain_cert = path("garbage.pem");
  e = create_error(o);
  EXPECT_EQ(e.rfind("Error loading the certificate chain: " + o.chain_cert + " : ", 0), 0u) << e;

  o = options();
  o.key = path("nope.key");
  e = create_error(o);
  EXPECT_EQ(e.rfind("Error loading the key: " + o.key + " : error:", 0), 0u) << e;
  EXPECT_NE(e.find("No such file or directory"), std::string::npos) << e;

  o = options();
  o.ca_cert = path("nope-ca.pem");
  e = create_error(o);
  EXPECT_EQ(e.rfind("Error loading the CA certificate: " + o.ca_cert + " : ", 0), 0u) << e;
}

TEST_F(TlsTest, KeyMustMatchCertificate) {
  TlsOptions o = options();
  o.key = path("other.key");
  std::string e = create_error(o);
  EXPECT_EQ(e.rfind("Error loading the key: " + o.key + " : ", 0), 0u) << e;
  EXPECT_NE(e.find("key values mismatch"), std::string::npos) << e;
}

TEST_F(TlsTest, WrongKeyFormatAndBadOptions) {
  TlsOptions o = options();
  o.key_format = 2;  // DER expected, PEM given
  EXPECT_EQ(create_error(o).rfind("Error loading the key: ", 0), 0u);
  o = options();
  o.ciphers = "BOGUS";
  EXPECT_EQ(create_error(o), "Error setting the provided cipher(s): BOGUS");
  o = options();
  o.verify_mode = 4;
  EXPECT_EQ(create_error(o), "Invalid ssl_verify_mode. Use help to see valid options.");
  o = options();
  o.min_version = 7;
  EXPECT_EQ(create_error(o), "could not parse argument to ssl_min_version");
}

// A non-blocking socketpair with a TlsStream on one end and an OpenSSL client on the other,
// stepped alternately (bounded) until both handshakes finish or one side fails.
class Pair {
 public:
  Pair(const TlsContext& server_ctx, SSL_CTX* client_ctx) {
    socketpair(AF_UNIX, SOCK_STREAM, 0, fds_);
    for (int fd : fds_) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    server = TlsStream::create(server_ctx, fds_[0]);
    client = SSL_new(client_ctx);
    SSL_set_fd(client, fds_[1]);
    SSL_set_connect_state(client);
  }
  ~Pair() {
    server.reset();
    SSL_free(client);
    close(fds_[0]);
    close(fds_[1]);
  }
  // kOk when both finished; the server's failure otherwise.
  TlsStream::Status handshake() {
    bool client_done = false;
    TlsStream::Status s = TlsStream::Status::kWantRead;
    for (int i = 0; i < 50 && !(client_done && s == TlsStream::Status::kOk); ++i) {
      if (!client_done) {
        int r = SSL_do_handshake(client);
        if (r == 1) {
          client_done = true;
        } else {
          int err = SSL_get_error(client, r);
          if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            client_failed = true;
          }
        }
      }
      if (s != TlsStream::Status::kOk) {
        s = server->handshake();
        if (s == TlsStream::Status::kError || s == TlsStream::Status::kClosed) return s;
      }
      if (client_failed && s != TlsStream::Status::kOk) {
        // The client gave up (it sent an alert): let the server see it.
        s = server->handshake();
        return s;
      }
    }
    return client_done ? s : TlsStream::Status::kWantRead;
  }

  std::unique_ptr<TlsStream> server;
  SSL* client = nullptr;
  bool client_failed = false;

 private:
  int fds_[2] = {-1, -1};
};

SSL_CTX* client_ctx(int max_version = 0) {
  SSL_CTX* c = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  if (max_version != 0) SSL_CTX_set_max_proto_version(c, max_version);
  return c;
}

TEST_F(TlsTest, HandshakeThenDataBothWays) {
  std::string error;
  auto ctx = TlsContext::create(options(), &error);
  ASSERT_NE(ctx, nullptr) << error;
  SSL_CTX* cc = client_ctx();
  {
    Pair p(*ctx, cc);
    ASSERT_EQ(p.handshake(), TlsStream::Status::kOk) << p.server->error();
    EXPECT_STREQ(p.server->version(), "TLSv1.3");
    char buf[64];
    size_t n = 0;
    EXPECT_EQ(p.server->read(buf, sizeof(buf), &n), TlsStream::Status::kWantRead);
    ASSERT_EQ(SSL_write(p.client, "get k\r\n", 7), 7);
    // Read a byte at a time: the rest stays pending inside the stream.
    ASSERT_EQ(p.server->read(buf, 1, &n), TlsStream::Status::kOk);
    EXPECT_EQ(n, 1u);
    EXPECT_TRUE(p.server->pending());
    ASSERT_EQ(p.server->read(buf + 1, sizeof(buf) - 1, &n), TlsStream::Status::kOk);
    EXPECT_EQ(std::string(buf, n + 1), "get k\r\n");
    EXPECT_FALSE(p.server->pending());
    ASSERT_EQ(p.server->write("END\r\n", 5, &n), TlsStream::Status::kOk);
    EXPECT_EQ(n, 5u);
    char in[16];
    ASSERT_EQ(SSL_read(p.client, in, sizeof(in)), 5);
    EXPECT_EQ(std::string(in, 5), "END\r\n");
    // An orderly close from the client is kClosed, not an error.
    SSL_shutdown(p.client);
    EXPECT_EQ(p.server->read(buf, sizeof(buf), &n), TlsStream::Status::kClosed);
  }
  SSL_CTX_free(cc);
}

TEST_F(TlsTest, LargeWriteIsPartialUntilTheSocketDrains) {
  std::string error;
  auto ctx = TlsContext::create(options(), &error);
  ASSERT_NE(ctx, nullptr) << error;
  SSL_CTX* cc = client_ctx();
  {
    Pair p(*ctx, cc);
    ASSERT_EQ(p.handshake(), TlsStream::Status::kOk);
    std::string big(4 << 20, 'v');
    size_t sent = 0, received = 0;
    std::string got;
    char buf[65536];
    for (int i = 0; i < 100000 && received < big.size(); ++i) {
      if (sent < big.size()) {
        size_t n = 0;
        TlsStream::Status s = p.server->write(big.data() + sent, big.size() - sent, &n);
        ASSERT_TRUE(s == TlsStream::Status::kOk || s == TlsStream::Status::kWantWrite);
        if (s == TlsStream::Status::kOk) sent += n;
      }
      int r = SSL_read(p.client, buf, sizeof(buf));
      if (r > 0) received += static_cast<size_t>(r);
    }
    EXPECT_EQ(sent, big.size());
    EXPECT_EQ(received, big.size());
  }
  SSL_CTX_free(cc);
}

TEST_F(TlsTest, MutualTlsRequiresAClientCertificate) {
  TlsOptions o = options();
  o.ca_cert = path("ca.pem");
  o.verify_mode = 2;
  std::string error;
  auto ctx = TlsContext::create(o, &error);
  ASSERT_NE(ctx, nullptr) << error;
  SSL_CTX* anonymous = client_ctx();
  {
    Pair p(*ctx, anonymous);
    EXPECT_EQ(p.handshake(), TlsStream::Status::kError);
    EXPECT_NE(p.server->error().find("certificate"), std::string::npos) << p.server->error();
  }
  SSL_CTX* with_cert = client_ctx();
  ASSERT_EQ(SSL_CTX_use_certificate_file(with_cert, path("client.pem").c_str(), SSL_FILETYPE_PEM),
            1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey_file(with_cert, path("client.key").c_str(), SSL_FILETYPE_PEM),
            1);
  {
    Pair p(*ctx, with_cert);
    EXPECT_EQ(p.handshake(), TlsStream::Status::kOk) << p.server->error();
  }
  SSL_CTX_free(anonymous);
  SSL_CTX_free(with_cert);
}

TEST_F(TlsTest, MinimumVersionRefusesOlderClients) {
  TlsOptions o = options();
  o.min_version = 3;
  std::string error;
  auto ctx = TlsContext::create(o, &error);
  ASSERT_NE(ctx, nullptr) << error;
  SSL_CTX* old_client = client_ctx(TLS1_2_VERSION);
  {
    Pair p(*ctx, old_client);
    EXPECT_EQ(p.handshake(), TlsStream::Status::kError);
  }
  SSL_CTX_free(old_client);
  o.min_version = 2;
  ctx = TlsContext::create(o, &error);
  old_client = client_ctx(TLS1_2_VERSION);
  {
    Pair p(*ctx, old_client);
    EXPECT_EQ(p.handshake(), TlsStream::Status::kOk) << p.server->error();
    EXPECT_STREQ(p.server->version(), "TLSv1.2");
  }
  SSL_CTX_free(old_client);
}

TEST_F(TlsTest, ReplacedContextStaysValidForOpenStreams) {
  std::string error;
  TlsContextSlot slot;
  slot.set(TlsContext::create(options(), &error));
  ASSERT_NE(slot.get(), nullptr);
  SSL_CTX* cc = client_ctx();
  {
    Pair p(*slot.get(), cc);
    slot.set(TlsContext::create(options(), &error));  // the old context is released here
    ASSERT_EQ(p.handshake(), TlsStream::Status::kOk) << p.server->error();
    size_t n = 0;
    ASSERT_EQ(p.server->write("OK\r\n", 4, &n), TlsStream::Status::kOk);
  }
  SSL_CTX_free(cc);
}

}  // namespace
}  // namespace memshield::security
