// Ed25519 signatures over manifests, through OpenSSL 3's EVP interface.
//
// Keys are PEM files: the private key PKCS#8 ("-----BEGIN PRIVATE KEY-----",
// to be stored mode 0600), the public key SubjectPublicKeyInfo ("-----BEGIN
// PUBLIC KEY-----"); keys made by `openssl genpkey -algorithm ed25519` load
// as they are. A signature file M.sig holds the raw 64-byte (pure, not
// prehashed) Ed25519 signature over the exact bytes of M, so it can also be
// checked with
//   openssl pkeyutl -verify -pubin -inkey KEY.pub -rawin -in M -sigfile M.sig
// and one made by `openssl pkeyutl -sign -inkey KEY -rawin` verifies here.
//
// Errors: a PEM text that cannot be read (garbage, wrong kind of key block,
// an encrypted private key: valise never prompts for a passphrase) or a key
// of another algorithm is InvalidArgument; a signature that is not 64 bytes,
// or was made by another key, or over other bytes, is Corruption "signature
// does not match". Messages carry OpenSSL's own error text where it has
// one, and OpenSSL's per-thread error queue is left empty after every call.
//
// Thread safety: all functions are thread-safe (they share no state; OpenSSL
// 3 needs no locking setup).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "valise/status.h"

namespace valise {

// Length of a raw Ed25519 signature, the whole content of M.sig.
inline constexpr size_t kSignatureSize = 64;

// Makes a new key pair, as PEM text (PKCS#8 private, SPKI public). On
// failure both outputs are left untouched.
Status GenerateKeyPair(std::string* private_pem, std::string* public_pem);
// Signs `data` with a PEM private key; *signature gets 64 raw bytes (left
// untouched on failure).
Status SignData(std::string_view private_pem, std::string_view data,
                std::string* signature);
// OK if `signature` is a valid signature of `data` by the PEM public key;
// Corruption ("signature does not match") if not; InvalidArgument if the
// key cannot be read or is not Ed25519.
Status VerifySignature(std::string_view public_pem, std::string_view data,
                       std::string_view signature);
// The fingerprint reports give a public key: "sha256:" and the hex SHA-256
// of its DER SubjectPublicKeyInfo, so that
//   openssl pkey -pubin -in KEY.pub -outform DER | sha256sum
// prints the same hex. InvalidArgument if the key cannot be read or is not
// Ed25519.
Status PublicKeyFingerprint(std::string_view public_pem, std::string* out);

}  // namespace valise
