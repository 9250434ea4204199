import { cancel, confirm, isCancel, select, text } from "@clack/prompts";
import { PartyShardError } from "../errors.js";

/** The questions commands may ask. Tests and non-interactive runs get answers without a terminal. */
export interface Prompts {
  interactive: boolean;
  select(message: string, choices: string[], initial: string): Promise<string>;
  number(message: string, initial: number, validate: (value: number) => string | undefined): Promise<number>;
  confirm(message: string): Promise<boolean>;
}

/** Interactive only with a terminal on both ends, outside CI, and without --yes or --json. */
export function createPrompts(options: { yes: boolean; json: boolean }): Prompts {
  const interactive =
    !options.yes && !options.json && !process.env.CI && Boolean(process.stdin.isTTY && process.stdout.isTTY);
  if (!interactive) {
    return {
      interactive,
      select: async (_message, _choices, initial) => initial,
      number: async (_message, initial) => initial,
      confirm: async () => true,
    };
  }
  return {
    interactive,
    select: async (message, choices, initial) =>
      answer<string>(await select({ message, initialValue: initial, options: choices.map((value) => ({ value })) })),
    number: async (message, initial, validate) => {
      const value = answer(
        await text({
          message,
          initialValue: String(initial),
          validate: (input) => (/^\d+$/.test(input ?? "") ? validate(Number(input)) : "Enter a whole number"),
        }),
      );
      return Number(value);
    },
    confirm: async (message) => answer<boolean>(await confirm({ message })),
  };
}

function answer<T>(value: T | symbol): T {
  if (isCancel(value) || typeof value === "symbol") {
    cancel("Cancelled; nothing was written.");
    throw new PartyShardError("Cancelled; nothing was written.", { exitCode: 1 });
  }
  return value;
}
