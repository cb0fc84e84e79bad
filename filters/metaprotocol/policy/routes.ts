// Connection routing: the first request of a connection chooses its upstream cluster. The filter
// pauses in on_new_connection, so tcp_proxy (with `upstream_connect_mode: ON_DOWNSTREAM_DATA`)
// starts only when the first read has gone through the filter, and then reads the cluster from
// the filter state `envoy.tcp_proxy.cluster`.
// Later requests cannot move the connection: those that would match another route are counted.
import { Message } from "../../../api/assembly/codec";
import { JsonValue } from "../runtime/json";
import { ConfigReader } from "../runtime/config_reader";
import { CallMatch, Peer, readCallMatch } from "./match";

class Route {
  constructor(public match: CallMatch, public cluster: string) {}
}

export class ConnectionRoutes {
  routes: Array<Route> = [];


  /** The cluster of the first route whose match holds, or "" (tcp_proxy's own cluster). */
  choose(message: Message, peer: Peer): string {
    for (let i = 0; i < this.routes.length; i++) {
      const route = unchecked(this.routes[i]);
      if (route.match.matches(message, peer)) return route.cluster;
    }
    return "";
  }
}

export function readRoutes(reader: ConfigReader, value: JsonValue, path: string): ConnectionRoutes {
  const routes = new ConnectionRoutes();
  const items = reader.array(value, path);
  for (let i = 0; i < items.length && !reader.failed; i++) {
    const routePath = path + "[" + i.toString() + "]";
    const route = reader.object(items[i], routePath, ["match", "cluster"]);
    if (route == null) break;
    const cluster = reader.required(route, "cluster", routePath);
    if (cluster == null) break;
    const name = reader.string(cluster, routePath + ".cluster");
    if (name.length == 0) reader.fail(routePath + ".cluster", "must name a cluster");
    routes.routes.push(new Route(readCallMatch(reader, route.get("match"), routePath + ".match"), name));
  }
  return routes;
}
