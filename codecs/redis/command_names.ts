// Command names as the codec reads them from every command: pipelines repeat a handful of
// names, so the uppercased string and its label are kept for the most recent ones and found
// again by comparing bytes, with no string built or hashed per command.
import { Capture } from "./capture";
import { UNKNOWN_COMMAND, commandLabel, isContainer } from "./commands";

export class CommandName {
  constructor(
    /** The name uppercased, or "" when the element is not a short printable word. */
    readonly name: string,
    /** The `method` label when no subcommand applies. */
    readonly label: string,
    /** A container command (CLIENT, CONFIG...): the label comes from its subcommand. */
    readonly container: bool,
  ) {}
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
