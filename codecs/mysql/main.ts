// Entry point of dist/wasm/mysql.wasm.
export * from "../../filters/metaprotocol/index";
import { useCodec } from "../../filters/metaprotocol/root";
import { MySqlCodec } from "./mysql_codec";

useCodec(new MySqlCodec());
