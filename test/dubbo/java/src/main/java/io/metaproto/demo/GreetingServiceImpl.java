package io.metaproto.demo;

import java.net.InetSocketAddress;
import org.apache.dubbo.rpc.RpcContext;

public class GreetingServiceImpl implements GreetingService {
    @Override
    public String sayHello(String name) {
        // The attachments as the provider received them: the rig checks a policy's mutations here.
        System.err.println("PROVIDER sayHello attachments " + new java.util.TreeMap<>(RpcContext.getServerAttachment().getObjectAttachments()));
        return "Hello " + name + ", response from " + localAddress();
    }

    @Override
    public String fail(String why) {
        // One line per call served: the rig counts the provider's own fail() calls from these.
        System.err.println("PROVIDER fail " + why);
        throw new IllegalStateException(why);
    }

    @Override
    public void notifyOneway(String msg) {
        System.err.println("ONEWAY RECEIVED " + msg);
    }

    @Override
    public KitchenSink echo(KitchenSink k) {
        return k;
    }

    static String localAddress() {
        InetSocketAddress a = RpcContext.getServiceContext().getLocalAddress();
        if (a == null) {
            return "unknown";
        }
        String host = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
        if (host.indexOf(':') >= 0 && !host.startsWith("[")) {
            host = "[" + host + "]";
        }
        return host + ":" + a.getPort();
    }
}
