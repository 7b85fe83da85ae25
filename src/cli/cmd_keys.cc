// valise keygen -o KEY and valise sign -k KEY M: Ed25519 keys and detached
// manifest signatures (M.sig, the raw 64-byte signature).
#include <fmt/format.h>

#include "cli/commands.h"
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
  FileSystem* fs = FileSystem::Default();
  for (const std::string& p : {args.output, args.output + ".pub"}) {
    FileInfo info;
    if (fs->Stat(p, &info).ok()) {
      PrintError(p + ": exists; not overwriting a key");
      return kExitTrouble;
    }
  }
  std::string priv, pub;
  Status s = GenerateKeyPair(&priv, &pub);
  if (s.ok()) s = fs->WriteSmallFile(args.output, priv, 0600);
  if (s.ok()) s = fs->WriteSmallFile(args.output + ".pub", pub, 0644);
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

int RunSign(const Args& args) {
  FileSystem* fs = FileSystem::Default();
  std::string key, data, sig;
  Status s = fs->ReadSmallFile(args.key, &key, 64 << 10);
  if (s.ok()) s = CheckPrivateKeyMode(fs, args.key);
  if (s.ok()) s = fs->ReadSmallFile(args.manifest, &data, size_t{16} << 30);
  if (s.ok()) s = SignData(key, data, &sig);
  if (s.ok()) s = fs->WriteSmallFile(args.manifest + ".sig", sig, 0644);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  PrintNote(args, "wrote " + args.manifest + ".sig");
  return kExitOk;
}

}  // namespace valise::cli
