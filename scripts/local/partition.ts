import { execFile } from "node:child_process";
import { promisify } from "node:util";

// A network partition between the local regions, in the kernel: every packet to a region's peer address (the one
// address the other regions reach its database and Kafka on) is dropped on loopback, so connections hang the way
// they do when a link between regions goes dark (nothing answers, nothing is refused). Needs root (iptables).

const run = promisify(execFile);

/** The comment every rule carries, so `heal` (and `down` after a crash) removes exactly the rules it added. */
export const partitionComment = (stateDir: string) => `blueprint-partition:${stateDir}`.slice(0, 255);

const rule = (address: string, comment: string) => [
  "OUTPUT",
  "-o",
  "lo",
  "-d",
  `${address}/32`,
  "-m",
  "comment",
  "--comment",
  comment,
  "-j",
  "DROP",
];

async function iptables(args: string[]): Promise<void> {
  try {
    await run("iptables", ["-w", "5", ...args], { timeout: 10_000 });
  } catch (error) {
    const detail =
      (error as NodeJS.ErrnoException & { stderr?: string }).stderr?.trim() ?? (error as Error).message;
    throw new Error(
      `iptables ${args.join(" ")} failed: ${detail} — the partition drill drops packets with iptables and needs root (and the iptables package: 'apt-get install iptables')`,
    );
  }
}

/** Drops every packet to these addresses; returns the function that heals the partition. */
export async function cut(addresses: string[], comment: string): Promise<() => Promise<void>> {
  const added: string[] = [];
  try {
    for (const address of addresses) {
      await iptables(["-I", ...rule(address, comment)]);
      added.push(address);
    }
  } catch (error) {
    await Promise.allSettled(added.map((address) => iptables(["-D", ...rule(address, comment)])));
    throw error;
  }
  return async () => {
    await heal(addresses, comment);
  };
}

/** Removes the rules `cut` added for these addresses (each as often as it is there); a missing rule is fine. */
export async function heal(addresses: string[], comment: string): Promise<void> {
  for (const address of addresses) {
    for (let i = 0; i < 10; i++) {
      try {
        await run("iptables", ["-w", "5", "-C", ...rule(address, comment)], { timeout: 10_000 });
      } catch {
        break;
      }
      await iptables(["-D", ...rule(address, comment)]);
    }
  }
}
