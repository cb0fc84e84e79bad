// Connection routing: the first request of a connection chooses its upstream cluster. The filter
// pauses in on_new_connection, so tcp_proxy (with `upstream_connect_mode: ON_DOWNSTREAM_DATA`)
// starts only when the first read has gone through the filter, and then reads the cluster from
// the filter state `envoy.tcp_proxy.cluster`.
// Later requests cannot move the connection: those that would match another route are counted.
import { Message } from "../../../api/assembly/codec";
import { ConnectionRouteSpec } from "../config_spec.generated";
import { ConfigReader } from "../runtime/config_reader";
import { CallMatch, Peer, callMatchOf } from "./match";

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

export function routesOf(reader: ConfigReader, specs: Array<ConnectionRouteSpec>, path: string): ConnectionRoutes {
  const routes = new ConnectionRoutes();
  for (let i = 0; i < specs.length; i++) {
    routes.routes.push(new Route(callMatchOf(reader, specs[i].match, reader.index(path, i) + ".match"), specs[i].cluster));
  }
  return routes;
}
