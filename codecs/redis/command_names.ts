// Command names as the codec reads them from every command: pipelines repeat a handful of
// names, so the uppercased string, its label and what the codec does with it are kept for the
// most recent ones and found again by comparing bytes, with no string built, hashed or
// compared against the special commands per command.
import { Capture } from "./capture";
import { UNKNOWN_COMMAND, commandLabel, isContainer } from "./commands";
import { SUBSCRIPTION_WORDS } from "./expected_replies";

/** What the codec does with a command beyond counting it. */
export enum CommandKind {
  Plain = 0,
  /** POST, HOST: (HTTP sent to Redis's port; Redis drops the connection). */
  NotRedis,
  /** SYNC, PSYNC: a replica's stream follows. */
  Replication,
  Select,
  Multi,
  Discard,
  Exec,
  Reset,
  Hello,
  Monitor,
  /** (P|S)(UN)SUBSCRIBE; CommandName.subscription says which. */
  Subscription,
}

function kindOf(name: string, subscription: i32): CommandKind {
  if (name == "POST" || name == "HOST:") return CommandKind.NotRedis;
  if (name == "SYNC" || name == "PSYNC") return CommandKind.Replication;
  if (name == "SELECT") return CommandKind.Select;
  if (name == "MULTI") return CommandKind.Multi;
  if (name == "DISCARD") return CommandKind.Discard;
  if (name == "EXEC") return CommandKind.Exec;
  if (name == "RESET") return CommandKind.Reset;
  if (name == "HELLO") return CommandKind.Hello;
  if (name == "MONITOR") return CommandKind.Monitor;
  return subscription >= 0 ? CommandKind.Subscription : CommandKind.Plain;
}

function subscriptionOf(name: string): i32 {
  for (let i = 0; i < SUBSCRIPTION_WORDS.length; i++) {
    if (name == SUBSCRIPTION_WORDS[i].toUpperCase()) return i;
  }
  return -1;
}

export class CommandName {
  constructor(
    /** The name uppercased, or "" when the element is not a short printable word. */
    readonly name: string,
    /** The `method` label when no subcommand applies. */
    readonly label: string,
    /** A container command (CLIENT, CONFIG...): the label comes from its subcommand. */
    readonly container: bool,
  ) {
    this.subscription = subscriptionOf(name);
    this.kind = kindOf(name, this.subscription);
  }

  readonly kind: CommandKind;
  /** For CommandKind.Subscription: the Subscription it is; -1 otherwise. */
  readonly subscription: i32;
}

const NOT_A_WORD = new CommandName("", UNKNOWN_COMMAND, false);
const RECENT = 16;

export class CommandNames {
  private recent: StaticArray<CommandName | null> = new StaticArray<CommandName | null>(RECENT);
  private next: i32 = 0;

  of(word: Capture): CommandName {
    for (let i = 0; i < RECENT; i++) {
      const known = unchecked(this.recent[i]);
      if (known == null) break;
      if (word.equalsIgnoringCase(known.name)) return known;
    }
    const name = word.upperWord();
    if (name.length == 0) return NOT_A_WORD;
    const entry = new CommandName(name, commandLabel(name), isContainer(name));
    unchecked(this.recent[this.next] = entry);
    this.next = (this.next + 1) % RECENT;
    return entry;
  }
}
