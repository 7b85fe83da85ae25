#include "valise/signature.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_util.h"

namespace valise {
namespace {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a shell command; returns its exit status (-1 if it did not exit).
int RunShell(const std::string& cmd) {
  int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  if (rc == -1 || !WIFEXITED(rc)) return -1;
  return WEXITSTATUS(rc);
}

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// PEM texts of a key made in-process (takes ownership of pkey).
struct PemPair {
  std::string private_pem;  // empty for a public-only key
  std::string public_pem;
};

std::string BioText(BIO* bio) {
  char* p = nullptr;
  long n = BIO_get_mem_data(bio, &p);
  std::string s(p, n);
  BIO_free(bio);
  return s;
}

PemPair ToPem(EVP_PKEY* pkey, bool has_private = true) {
  PemPair k;
  EXPECT_NE(pkey, nullptr);
  if (pkey == nullptr) return k;
  if (has_private) {
    BIO* priv = BIO_new(BIO_s_mem());
    EXPECT_EQ(PEM_write_bio_PrivateKey(priv, pkey, nullptr, nullptr, 0, nullptr,
                                       nullptr),
              1);
    k.private_pem = BioText(priv);
  }
  BIO* pub = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PUBKEY(pub, pkey), 1);
  k.public_pem = BioText(pub);
  EVP_PKEY_free(pkey);
  return k;
}

// A raw Ed25519 private key (RFC 8032 form, 32 bytes) as PKCS#8 PEM.
std::string RawPrivateToPem(const std::string& raw) {
  return ToPem(EVP_PKEY_new_raw_private_key(
                   EVP_PKEY_ED25519, nullptr,
                   reinterpret_cast<const unsigned char*>(raw.data()),
                   raw.size()))
      .private_pem;
}

std::string RawPublicToPem(const std::string& raw) {
  return ToPem(EVP_PKEY_new_raw_public_key(
                   EVP_PKEY_ED25519, nullptr,
                   reinterpret_cast<const unsigned char*>(raw.data()),
                   raw.size()),
               /*has_private=*/false)
      .public_pem;
}

std::string Manifest() {
  return "valise-manifest 1\n# columns size mtime sha256 path\n"
         "5\t1\t" +
         std::string(64, 'a') + "\tdir/file.bin\n# end files=1 bytes=5\n";
}

// Goal: a fresh key pair is PEM in the documented forms, signs, and its own
// signature verifies.
TEST(Signature, RoundTrip) {
  std::string priv, pub, sig;
  ASSERT_VALISE_OK(GenerateKeyPair(&priv, &pub));
  EXPECT_EQ(priv.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << priv;
  EXPECT_EQ(pub.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u) << pub;
  std::string data = Manifest();
  ASSERT_VALISE_OK(SignData(priv, data, &sig));
  EXPECT_EQ(sig.size(), kSignatureSize);
  EXPECT_VALISE_OK(VerifySignature(pub, data, sig));
  // Empty and binary data sign too.
  ASSERT_VALISE_OK(SignData(priv, "", &sig));
  EXPECT_VALISE_OK(VerifySignature(pub, "", sig));
  std::string binary = test::RandomBytes(100000, 7);
  ASSERT_VALISE_OK(SignData(priv, binary, &sig));
  EXPECT_VALISE_OK(VerifySignature(pub, binary, sig));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// Goal: two generated key pairs differ (the generator is really random).
TEST(Signature, KeysAreFresh) {
  std::string priv1, pub1, priv2, pub2;
  ASSERT_VALISE_OK(GenerateKeyPair(&priv1, &pub1));
  ASSERT_VALISE_OK(GenerateKeyPair(&priv2, &pub2));
  EXPECT_NE(priv1, priv2);
  EXPECT_NE(pub1, pub2);
}

// Goal: signing matches the RFC 8032 section 7.1 known answers (pure
// Ed25519, not a prehash or context variant).
TEST(Signature, Rfc8032Vectors) {
  struct Vector {
    const char* secret;
    const char* pub;
    const char* msg;
    const char* sig;
  } vectors[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
       "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
       "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
  };
  for (const Vector& v : vectors) {
    std::string priv = RawPrivateToPem(FromHex(v.secret));
    std::string pub = RawPublicToPem(FromHex(v.pub));
    std::string msg = FromHex(v.msg);
    std::string sig;
    ASSERT_VALISE_OK(SignData(priv, msg, &sig));
    EXPECT_EQ(sig, FromHex(v.sig)) << v.secret;
    EXPECT_VALISE_OK(VerifySignature(pub, msg, FromHex(v.sig)));
  }
}

// Goal: any single flipped bit in the data or in the signature is refused
// with Corruption "signature does not match", and the error queue is left
// empty.
TEST(Signature, FlippedBitsFail) {
  std::string priv, pub, sig;
  ASSERT_VALISE_OK(GenerateKeyPair(&priv, &pub));
  std::string data = Manifest();
  ASSERT_VALISE_OK(SignData(priv, data, &sig));
  for (size_t i = 0; i < data.size() * 8; i += 7) {
    std::string bad = data;
    bad[i / 8] ^= static_cast<char>(1 << (i % 8));
    Status s = VerifySignature(pub, bad, sig);
    ASSERT_TRUE(s.IsCorruption()) << "data bit " << i << ": " << s.ToString();
    EXPECT_NE(s.message().find("signature does not match"), std::string::npos);
  }
  for (size_t i = 0; i < sig.size() * 8; ++i) {
    std::string bad = sig;
    bad[i / 8] ^= static_cast<char>(1 << (i % 8));
    Status s = VerifySignature(pub, data, bad);
    ASSERT_TRUE(s.IsCorruption()) << "sig bit " << i << ": " << s.ToString();
    EXPECT_NE(s.message().find("signature does not match"), std::string::npos);
  }
  // Appended or dropped data is a change too.
  EXPECT_TRUE(VerifySignature(pub, data + "\n", sig).IsCorruption());
  EXPECT_TRUE(VerifySignature(pub, data.substr(0, data.size() - 1), sig)
                  .IsCorruption());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// Goal: a signature by another Ed25519 key does not verify.
TEST(Signature, OtherKeyFails) {
  std::string priv1, pub1, priv2, pub2, sig;
  ASSERT_VALISE_OK(GenerateKeyPair(&priv1, &pub1));
  ASSERT_VALISE_OK(GenerateKeyPair(&priv2, &pub2));
  ASSERT_VALISE_OK(SignData(priv1, Manifest(), &sig));
  Status s = VerifySignature(pub2, Manifest(), sig);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("signature does not match"), std::string::npos);
  EXPECT_VALISE_OK(VerifySignature(pub1, Manifest(), sig));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// Goal: a signature of the wrong length (empty, truncated, extended, a hex
// text of it) is Corruption, not a crash or an InvalidArgument.
TEST(Signature, WrongLengthFails) {
  std::string priv, pub, sig;
  ASSERT_VALISE_OK(GenerateKeyPair(&priv, &pub));
  ASSERT_VALISE_OK(SignData(priv, Manifest(), &sig));
  for (const std::string& bad : {std::string(), sig.substr(0, 63), sig + '\0',
                                 sig + "\n", std::string(128, 'a')}) {
    Status s = VerifySignature(pub, Manifest(), bad);
    EXPECT_TRUE(s.IsCorruption()) << bad.size() << ": " << s.ToString();
    EXPECT_NE(s.message().find("signature does not match"), std::string::npos);
  }
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// Goal: RSA and EC keys, which parse fine, are refused as "not an Ed25519
// key", for signing and for verifying.
TEST(Signature, ForeignKeyTypesRefused) {
  std::vector<PemPair> keys;
  keys.push_back(ToPem(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")));
  keys.push_back(ToPem(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))));
  keys.push_back(ToPem(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448")));
  for (const PemPair& k : keys) {
    ASSERT_FALSE(k.private_pem.empty());
    std::string sig = "unchanged";
    Status s = SignData(k.private_pem, Manifest(), &sig);
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_NE(s.message().find("not an Ed25519 key"), std::string::npos)
        << s.ToString();
    EXPECT_EQ(sig, "unchanged");
    s = VerifySignature(k.public_pem, Manifest(), std::string(64, 'x'));
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_NE(s.message().find("not an Ed25519 key"), std::string::npos)
        << s.ToString();
  }
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// Goal: text that is not a usable PEM key (garbage, a truncated key, the
// other half of the pair, an encrypted key) is InvalidArgument carrying
// OpenSSL's reason, never a prompt or a crash, and the error queue is left
// empty.
TEST(Signature, GarbagePemRefused) {
  std::string priv, pub;
  ASSERT_VALISE_OK(GenerateKeyPair(&priv, &pub));
  std::string sig;
  std::vector<std::string> bad_private = {
      "",
      "hello",
      priv.substr(0, priv.size() / 2),
      "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
      pub,
      test::RandomBytes(300, 3),
  };
  for (const std::string& pem : bad_private) {
    Status s = SignData(pem, "x", &sig);
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_NE(s.message().find("private key"), std::string::npos);
    EXPECT_EQ(ERR_peek_error(), 0u);
  }
  EXPECT_TRUE(sig.empty());
  std::vector<std::string> bad_public = {
      "",
      "hello",
      pub.substr(0, pub.size() / 2),
      priv,
      test::RandomBytes(300, 4),
  };
  for (const std::string& pem : bad_public) {
    Status s = VerifySignature(pem, "x", std::string(64, 'x'));
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_NE(s.message().find("public key"), std::string::npos);
    EXPECT_EQ(ERR_peek_error(), 0u);
  }
  // Messages name the usual mistakes, and carry OpenSSL's reason.
  Status s = SignData("hello", "x", &sig);
  EXPECT_NE(s.message().find("no PEM block"), std::string::npos)
      << s.ToString();
  EXPECT_NE(s.message().find("error:"), std::string::npos) << s.ToString();
  s = SignData(pub, "x", &sig);
  EXPECT_NE(s.message().find("this is a public key"), std::string::npos)
      << s.ToString();
  s = VerifySignature(priv, "x", std::string(64, 'x'));
  EXPECT_NE(s.message().find("this is a private key"), std::string::npos)
      << s.ToString();

  // An encrypted PKCS#8 key: refused without asking for a passphrase.
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  BIO* bio = BIO_new(BIO_s_mem());
  static char kPass[] = "secret";
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, pkey, EVP_aes_256_cbc(), nullptr, 0,
                                     nullptr, kPass),
            1);
  char* p = nullptr;
  long n = BIO_get_mem_data(bio, &p);
  std::string encrypted(p, n);
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  ASSERT_NE(encrypted.find("ENCRYPTED PRIVATE KEY"), std::string::npos);
  s = SignData(encrypted, "x", &sig);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("encrypted"), std::string::npos) << s.ToString();
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// Goal: valise and the openssl command line agree both ways: keys made by
// `openssl genpkey` load, a valise signature passes `openssl pkeyutl
// -verify -rawin` (and a tampered file fails it, proving the check is
// real), an openssl signature passes VerifySignature, and since Ed25519 is
// deterministic both produce the same bytes.
TEST(Signature, OpensslCommandLineInterop) {
  if (RunShell("openssl version") != 0) {
    FAIL() << "the openssl binary is required (Debian package openssl)";
  }
  test::TempDir dir;
  const std::string d = dir.path();
  ASSERT_EQ(
      RunShell("openssl genpkey -algorithm ed25519 -out " + d + "/key.pem"), 0);
  ASSERT_EQ(RunShell("openssl pkey -in " + d + "/key.pem -pubout -out " + d +
                     "/pub.pem"),
            0);
  std::string priv = ReadWholeFile(d + "/key.pem");
  std::string pub = ReadWholeFile(d + "/pub.pem");
  ASSERT_FALSE(priv.empty());
  ASSERT_FALSE(pub.empty());

  std::string data = Manifest() + test::RandomBytes(5000, 11);
  dir.Write("M", data);
  std::string sig;
  ASSERT_VALISE_OK(SignData(priv, data, &sig));
  dir.Write("M.sig", sig);
  EXPECT_EQ(
      RunShell("openssl pkeyutl -verify -pubin -inkey " + d +
               "/pub.pem -rawin -in " + d + "/M -sigfile " + d + "/M.sig"),
      0);
  std::string tampered = data;
  tampered[100] ^= 1;
  dir.Write("T", tampered);
  EXPECT_NE(
      RunShell("openssl pkeyutl -verify -pubin -inkey " + d +
               "/pub.pem -rawin -in " + d + "/T -sigfile " + d + "/M.sig"),
      0);

  ASSERT_EQ(RunShell("openssl pkeyutl -sign -inkey " + d +
                     "/key.pem -rawin -in " + d + "/M -out " + d + "/M.osig"),
            0);
  std::string osig = ReadWholeFile(d + "/M.osig");
  EXPECT_EQ(osig.size(), kSignatureSize);
  EXPECT_VALISE_OK(VerifySignature(pub, data, osig));
  EXPECT_TRUE(VerifySignature(pub, tampered, osig).IsCorruption());
  EXPECT_EQ(osig, sig);

  // And a valise key pair works with openssl.
  std::string vpriv, vpub;
  ASSERT_VALISE_OK(GenerateKeyPair(&vpriv, &vpub));
  dir.Write("v.pem", vpriv);
  dir.Write("v.pub", vpub);
  ASSERT_EQ(RunShell("openssl pkeyutl -sign -inkey " + d +
                     "/v.pem -rawin -in " + d + "/M -out " + d + "/M.vsig"),
            0);
  EXPECT_VALISE_OK(VerifySignature(vpub, data, ReadWholeFile(d + "/M.vsig")));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace valise
