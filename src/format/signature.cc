// Ed25519 key pairs, signing and verification through OpenSSL 3 EVP.
//
// Ed25519 is used "pure" (RFC 8032 section 5.1): the whole message goes to
// the one-shot EVP_DigestSign/EVP_DigestVerify with a NULL digest, which is
// what `openssl pkeyutl -rawin` does, so signatures interoperate with the
// openssl command line. Manifests are a few hundred MB at most and are held
// in memory anyway, so the one-shot form costs nothing.
//
// Every OpenSSL failure leaves entries on the calling thread's error queue;
// each error path below drains it into the Status message (OpenSslError) so
// that nothing leaks into a later, unrelated OpenSSL call of the same
// thread.
#include "valise/signature.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>
#include <memory>
#include <string>

namespace valise {

namespace {

// A key PEM is a few hundred bytes; anything much bigger is not a key, and
// the bound keeps the int-sized OpenSSL lengths safe.
constexpr size_t kMaxPemSize = 64 * 1024;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// Drains this thread's OpenSSL error queue and returns the text of its
// oldest entry (the root cause; later entries are the callers that passed
// it up), or "unknown OpenSSL error" if the queue was empty.
std::string OpenSslError() {
  unsigned long first = ERR_get_error();
  std::string text = "unknown OpenSSL error";
  if (first != 0) {
    char buf[256];
    ERR_error_string_n(first, buf, sizeof(buf));
    text = buf;
  }
  ERR_clear_error();
  return text;
}

// The PEM passphrase callback: valise never prompts (OpenSSL's default
// callback would read a passphrase from the terminal), so an encrypted key
// fails to load instead of blocking a batch run.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return -1;
}

// OpenSSL 3's decoders say little more than "unsupported" when a PEM text
// is unreadable, so name the usual operator mistakes first.
std::string PemHint(std::string_view pem, bool want_private) {
  auto has = [&](std::string_view s) {
    return pem.find(s) != std::string_view::npos;
  };
  if (!has("-----BEGIN ")) return "no PEM block (-----BEGIN ...) in it";
  if (has("ENCRYPTED PRIVATE KEY")) {
    return "encrypted private keys are not supported";
  }
  if (want_private && has("PUBLIC KEY") && !has("PRIVATE KEY")) {
    return "this is a public key, not a private key";
  }
  if (!want_private && has("PRIVATE KEY") && !has("PUBLIC KEY")) {
    return "this is a private key, not a public key";
  }
  return "damaged or unsupported PEM key";
}

BioPtr MemoryBio(std::string_view pem) {
  // A read-only memory BIO over the caller's bytes: no copy.
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

Status CheckEd25519(EVP_PKEY* pkey, std::string_view what) {
  if (EVP_PKEY_is_a(pkey, "ED25519") != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(what,
                                   std::string("not an Ed25519 key (it is ") +
                                       EVP_PKEY_get0_type_name(pkey) + ")");
  }
  return Status::OK();
}

Status LoadPrivateKey(std::string_view pem, PkeyPtr* out) {
  if (pem.size() > kMaxPemSize) {
    return Status::InvalidArgument("private key", "too large to be a PEM key");
  }
  BioPtr bio = MemoryBio(pem);
  if (!bio) return Status::IOError("private key", OpenSslError());
  PkeyPtr pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!pkey) {
    return Status::InvalidArgument(
        "private key: cannot read PEM",
        PemHint(pem, /*want_private=*/true) + " (" + OpenSslError() + ")");
  }
  VALISE_RETURN_IF_ERROR(CheckEd25519(pkey.get(), "private key"));
  *out = std::move(pkey);
  return Status::OK();
}

Status LoadPublicKey(std::string_view pem, PkeyPtr* out) {
  if (pem.size() > kMaxPemSize) {
    return Status::InvalidArgument("public key", "too large to be a PEM key");
  }
  BioPtr bio = MemoryBio(pem);
  if (!bio) return Status::IOError("public key", OpenSslError());
  // PEM_read_bio_PUBKEY reads a SubjectPublicKeyInfo block ("BEGIN PUBLIC
  // KEY"), the form `openssl pkey -pubout` writes.
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!pkey) {
    return Status::InvalidArgument(
        "public key: cannot read PEM",
        PemHint(pem, /*want_private=*/false) + " (" + OpenSslError() + ")");
  }
  VALISE_RETURN_IF_ERROR(CheckEd25519(pkey.get(), "public key"));
  *out = std::move(pkey);
  return Status::OK();
}

// Copies a memory BIO's contents out.
std::string BioContents(BIO* bio) {
  char* p = nullptr;
  long n = BIO_get_mem_data(bio, &p);
  return std::string(p, n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace

Status GenerateKeyPair(std::string* private_pem, std::string* public_pem) {
  // EVP_PKEY_Q_keygen draws from OpenSSL's default DRBG, seeded from
  // getrandom(2).
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!pkey) {
    return Status::IOError("keygen: Ed25519 key generation", OpenSslError());
  }
  // The private key goes through a secure-heap BIO, which is wiped when
  // freed, so no copy of it lingers in freed memory beyond the caller's
  // string.
  BioPtr priv(BIO_new(BIO_s_secmem()));
  BioPtr pub(BIO_new(BIO_s_mem()));
  if (!priv || !pub) return Status::IOError("keygen", OpenSslError());
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY"),
  // unencrypted (no cipher).
  if (PEM_write_bio_PrivateKey(priv.get(), pkey.get(), nullptr, nullptr, 0,
                               nullptr, nullptr) != 1) {
    return Status::IOError("keygen: write private key PEM", OpenSslError());
  }
  if (PEM_write_bio_PUBKEY(pub.get(), pkey.get()) != 1) {
    return Status::IOError("keygen: write public key PEM", OpenSslError());
  }
  *private_pem = BioContents(priv.get());
  *public_pem = BioContents(pub.get());
  return Status::OK();
}

Status SignData(std::string_view private_pem, std::string_view data,
                std::string* signature) {
  PkeyPtr pkey;
  VALISE_RETURN_IF_ERROR(LoadPrivateKey(private_pem, &pkey));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Status::IOError("sign", OpenSslError());
  // NULL digest: Ed25519 hashes internally (SHA-512) and takes no other.
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) !=
      1) {
    return Status::InvalidArgument("sign: init", OpenSslError());
  }
  std::string sig(kSignatureSize, '\0');
  size_t sig_len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &sig_len,
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1 ||
      sig_len != kSignatureSize) {
    return Status::IOError("sign", OpenSslError());
  }
  *signature = std::move(sig);
  return Status::OK();
}

Status VerifySignature(std::string_view public_pem, std::string_view data,
                       std::string_view signature) {
  PkeyPtr pkey;
  VALISE_RETURN_IF_ERROR(LoadPublicKey(public_pem, &pkey));
  if (signature.size() != kSignatureSize) {
    return Status::Corruption("signature does not match",
                              "an Ed25519 signature is 64 bytes, this one is " +
                                  std::to_string(signature.size()));
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Status::IOError("verify", OpenSslError());
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) !=
      1) {
    return Status::InvalidArgument("verify: init", OpenSslError());
  }
  int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
      signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
      data.size());
  if (rc != 1) {
    // 0 is a clean mismatch; a negative value is a malformed signature
    // (e.g. an out-of-range scalar). Both mean: not signed by this key.
    ERR_clear_error();
    return Status::Corruption("signature does not match");
  }
  return Status::OK();
}

Status PublicKeyFingerprint(std::string_view public_pem, std::string* out) {
  PkeyPtr pkey;
  VALISE_RETURN_IF_ERROR(LoadPublicKey(public_pem, &pkey));
  // The DER SubjectPublicKeyInfo: what `openssl pkey -pubin -outform DER`
  // writes, so `| sha256sum` gives the same hex.
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(pkey.get(), &der);
  if (len <= 0) return Status::IOError("public key", OpenSslError());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  const int ok = EVP_Digest(der, static_cast<size_t>(len), md, &md_len,
                            EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) return Status::IOError("public key: sha256", OpenSslError());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex = "sha256:";
  for (unsigned int i = 0; i < md_len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  *out = std::move(hex);
  return Status::OK();
}

}  // namespace valise
