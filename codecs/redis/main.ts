// Entry point of dist/wasm/redis.wasm.
export * from "../../filters/metaprotocol/index";
import { useCodec } from "../../filters/metaprotocol/root";
import { RedisCodec } from "./redis_codec";

useCodec(new RedisCodec());
