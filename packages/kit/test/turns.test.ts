import { Turns } from "@chirp/kit";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("Turns", () => {
  it("runs the tasks of one key one at a time, in the order asked", async () => {
    const turns = new Turns();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`${name} starts`);
      await tick();
      log.push(`${name} ends`);
      return name;
    };
    const results = await Promise.all([turns.run("k", task("a")), turns.run("k", task("b")), turns.run("k", task("c"))]);
    expect(results).toEqual(["a", "b", "c"]);
    expect(log).toEqual(["a starts", "a ends", "b starts", "b ends", "c starts", "c ends"]);
  });

  it("lets tasks of other keys run alongside", async () => {
    const turns = new Turns();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`${name} starts`);
      await tick();
      log.push(`${name} ends`);
    };
    await Promise.all([turns.run("x", task("x")), turns.run("y", task("y"))]);
    expect(log).toEqual(["x starts", "y starts", "x ends", "y ends"]);
  });

  it("gives a failure to its own caller only and goes on with the next task", async () => {
    const turns = new Turns();
    const failed = turns.run("k", async () => {
      throw new Error("boom");
    });
    const next = turns.run("k", async () => "next");
    await expect(failed).rejects.toThrow("boom");
    await expect(next).resolves.toBe("next");
  });

  it("forgets a key once its last task settles", async () => {
    const turns = new Turns();
    await Promise.all([turns.run("k", async () => 1), turns.run("j", async () => 2)]);
    await tick();
    expect(turns.size).toBe(0);
  });
});
