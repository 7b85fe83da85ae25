// Ed25519 signatures over manifests, through OpenSSL.
//
// Keys are PEM files: the private key PKCS#8 ("-----BEGIN PRIVATE KEY-----",
// mode 0600), the public key SubjectPublicKeyInfo ("-----BEGIN PUBLIC
// KEY-----"). A signature file M.sig holds the raw 64-byte Ed25519
// signature over the exact bytes of M, so it can also be checked with
// `openssl pkeyutl -verify -pubin -inkey KEY.pub -rawin -in M -sigfile M.sig`.
//
// Thread safety: all functions are thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "valise/status.h"

namespace valise {

// Makes a new key pair, as PEM text.
Status GenerateKeyPair(std::string* private_pem, std::string* public_pem);
// Signs `data` with a PEM private key; *signature gets 64 raw bytes.
Status SignData(std::string_view private_pem, std::string_view data,
                std::string* signature);
// OK if `signature` is a valid signature of `data` by the PEM public key;
// Corruption ("signature does not match") if not; InvalidArgument if the
// key cannot be read or is not Ed25519.
Status VerifySignature(std::string_view public_pem, std::string_view data,
                       std::string_view signature);

}  // namespace valise
