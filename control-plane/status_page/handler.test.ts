import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { adminAddressOfNode, adminMetadata } from "./envoy_admin";
import { documentText } from "./handler";

test("a NACK's origin leads to the text of its YAML document", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "status-page-"));
  const file = path.join(dir, "config.yaml");
  fs.writeFileSync(file, "kind: Service\nmetadata: { name: a }\n---\nkind: Service\nmetadata: { name: b }\nspec: { port: 1 }\n");
  expect(documentText(`${file} document 2 (Service b)`)).toBe("kind: Service\nmetadata: { name: b }\nspec: { port: 1 }\n");
  expect(documentText(`${file} document 1 (Service a)`)).toBe("kind: Service\nmetadata: { name: a }\n");
  expect(documentText(`${file} document 3 (Service c)`)).toBeUndefined();
  expect(documentText(`${path.join(dir, "gone.yaml")} document 1 (Service a)`)).toBeUndefined();
});

test("the admin address travels in node metadata as the ADS server decodes it", () => {
  const metadata = adminMetadata("0.0.0.0", 9901);
  const decoded = { fields: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, { string_value: v }])) };
  expect(adminAddressOfNode({ metadata: decoded })).toBe("127.0.0.1:9901");
  expect(adminAddressOfNode({ metadata: { fields: { metaproto_admin: { string_value: "not an address" } } } })).toBeUndefined();
  expect(adminAddressOfNode({})).toBeUndefined();
});
