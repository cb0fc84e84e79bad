import { Revisions } from "./revisions";

test("a configuration keeps its revision while unchanged; a change back to an earlier one gets a new one", () => {
  const revisions = new Revisions(1000);
  const denyDel = '{"policy":{"authz":{}}}';
  const first = revisions.of("cache", denyDel);
  expect(revisions.of("cache", denyDel)).toBe(first);
  const second = revisions.of("cache", "{}");
  expect(second).not.toBe(first);
  expect(revisions.of("cache", denyDel)).not.toBe(first);
  expect(revisions.of("other", "{}")).not.toBe(second);
});

test("revisions of a restarted control plane differ from the earlier ones", () => {
  expect(new Revisions(1000).of("cache", "{}")).not.toBe(new Revisions(2000).of("cache", "{}"));
});
