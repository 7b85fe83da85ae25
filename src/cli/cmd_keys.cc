// valise keygen -o KEY and valise sign -k KEY M: Ed25519 keys and detached
// manifest signatures (M.sig, the raw 64-byte signature). sign first checks
// the sidecars M binds (M.chunks) against their bindings.
#include <fmt/format.h>

#include "cli/commands.h"
#include "valise/manifest.h"
#include "valise/sidecar.h"
#include "valise/signature.h"

namespace valise::cli {

namespace {

// A private key that group or others may read or write is refused, as ssh
// refuses one ("permissions 0644 for 'k' are too open"): whoever could
// read it can sign manifests that every DEST will trust. The mode is that
// of the file a symlink leads to (the file that is read).
Status CheckPrivateKeyMode(FileSystem* fs, const std::string& path) {
  std::string target;
  FileInfo info;
  Status s = fs->ResolvePath(path, &target);
  if (s.ok()) s = fs->Stat(target, &info);
  if (!s.ok()) return s;
  if ((info.mode & 077) == 0) return Status::OK();
  return Status::InvalidArgument(
      path, fmt::format("permissions {:04o} for '{}' are too open: a private "
                        "key must be readable by its owner only (chmod 600 "
                        "'{}')",
                        info.mode & 07777, path, path));
}

}  // namespace

int RunKeygen(const Args& args) {
  // KEY and KEY.pub, checked and created first. Never a replacement, even
  // of a regular file: a key there may be the only copy.
  OutputGuard guard = GuardFromArgs(args);
  guard.force = false;
  std::unique_ptr<Output> priv_out, pub_out;
  Status s;
  for (const std::string& p : {args.output, args.output + ".pub"}) {
    FileInfo info;
    if (s.ok() && FileSystem::Default()->Stat(p, &info).ok()) {
      s = Status::InvalidArgument("-o " + p, "exists; not overwriting a key");
    }
  }
  if (s.ok()) {
    s = Output::Create("-o", args.output, 0600, false, guard, &priv_out);
  }
  if (s.ok()) {
    s = Output::Create("-o", args.output + ".pub", 0644, false, guard,
                       &pub_out);
  }
  std::string priv, pub;
  if (s.ok()) s = GenerateKeyPair(&priv, &pub);
  if (s.ok()) s = priv_out->Append(priv);
  if (s.ok()) s = priv_out->Close();
  if (s.ok()) s = pub_out->Append(pub);
  if (s.ok()) s = pub_out->Close();
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  PrintNote(args, "wrote " + args.output +
                      " (private, keep it at the "
                      "source) and " +
                      args.output + ".pub");
  return kExitOk;
}

namespace {

// The sidecars M binds must be the ones beside it: a signature over a
// binding that the shipped file does not match would only be refused at
// the datacenter. An absent one is a warning (it may be copied in later).
Status CheckSidecars(FileSystem* fs, const std::string& manifest,
                     std::string_view data) {
  std::map<std::string, SidecarBinding, std::less<>> bindings;
  VALISE_RETURN_IF_ERROR(ReadManifestBindings(data, manifest, &bindings));
  for (const auto& [name, b] : bindings) {
    Status s = CheckBoundSidecar(fs, manifest, name, b);
    if (s.IsNotFound()) {
      PrintWarning(s.message() + " (" + manifest + " binds it: ship it " +
                   "beside " + manifest + ")");
    } else if (!s.ok()) {
      return s.WithContext("not signing " + manifest);
    }
  }
  return Status::OK();
}

}  // namespace

Status ReadSigningKey(FileSystem* fs, const std::string& path,
                      std::string* key) {
  VALISE_RETURN_IF_ERROR(fs->ReadSmallFile(path, key, 64 << 10));
  VALISE_RETURN_IF_ERROR(CheckPrivateKeyMode(fs, path));
  std::string sig;
  return SignData(*key, "", &sig).WithContext(path);
}

Status SignManifest(FileSystem* fs, const OutputGuard& guard,
                    const std::string& manifest, const std::string& key,
                    std::string* sig_path) {
  *sig_path = manifest + ".sig";
  OutputGuard g = guard;
  std::erase(g.inputs, *sig_path);
  std::unique_ptr<Output> sig_out;
  std::string data, sig;
  VALISE_RETURN_IF_ERROR(
      Output::Create("signature", *sig_path, 0644, false, g, &sig_out));
  VALISE_RETURN_IF_ERROR(fs->ReadSmallFile(manifest, &data, size_t{16} << 30));
  VALISE_RETURN_IF_ERROR(CheckSidecars(fs, manifest, data));
  VALISE_RETURN_IF_ERROR(SignData(key, data, &sig));
  VALISE_RETURN_IF_ERROR(sig_out->Append(sig));
  return sig_out->Close();
}

int RunSign(const Args& args) {
  FileSystem* fs = FileSystem::Default();
  // M.sig is this command's output (--force replaces an old one); M and
  // the key are its inputs.
  std::string key, sig_path;
  Status s = ReadSigningKey(fs, args.key, &key);
  if (s.ok())
    s = SignManifest(fs, GuardFromArgs(args), args.manifest, key, &sig_path);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  PrintNote(args, "wrote " + sig_path);
  return kExitOk;
}

}  // namespace valise::cli
