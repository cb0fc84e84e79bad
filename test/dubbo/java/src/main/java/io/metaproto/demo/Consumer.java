package io.metaproto.demo;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.MethodConfig;
import org.apache.dubbo.config.ReferenceConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;
import org.apache.dubbo.rpc.RpcContext;
import org.apache.dubbo.rpc.RpcException;

/**
 * Real Apache Dubbo consumer over a direct URL.
 * Usage: Consumer --url dubbo://[::ffff:127.0.0.1]:PORT [--count N] [--attach k=v]...
 *                 [--timeout MS] [--name NAME] [--heartbeat MS --pause MS]
 * Calls sayHello N times, fail("boom") once, notifyOneway once, echo(KitchenSink) once.
 * --heartbeat sets the client heartbeat interval (Dubbo default 60000 ms) and
 * --pause idles that long after the sayHello calls, so heartbeat event frames
 * appear on the wire.
 */
public final class Consumer {
    public static void main(String[] args) {
        String url = null;
        int count = 3;
        int timeout = 5000;
        String name = "MetaProto";
        int heartbeat = 0;
        int pause = 0;
        boolean failDenied = false;
        Map<String, String> attach = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--url": url = args[++i]; break;
                case "--count": count = Integer.parseInt(args[++i]); break;
                case "--timeout": timeout = Integer.parseInt(args[++i]); break;
                case "--name": name = args[++i]; break;
                case "--heartbeat": heartbeat = Integer.parseInt(args[++i]); break;
                case "--pause": pause = Integer.parseInt(args[++i]); break;
                case "--fail-denied": failDenied = true; break;
                case "--attach": {
                    String kv = args[++i];
                    int eq = kv.indexOf('=');
                    if (eq <= 0) usage("bad --attach " + kv);
                    attach.put(kv.substring(0, eq), kv.substring(eq + 1));
                    break;
                }
                default: usage("unknown argument " + a);
            }
        }
        if (url == null) usage("--url is required");
        int rc;
        try {
            rc = run(url, count, timeout, name, attach, heartbeat, pause, failDenied);
        } catch (Throwable t) {
            System.err.println("CONSUMER ERROR: " + t);
            t.printStackTrace();
            rc = 1;
        }
        System.out.flush();
        // Dubbo leaves non-daemon threads behind; exit explicitly.
        Runtime.getRuntime().halt(rc);
    }

    private static void usage(String why) {
        System.err.println(why);
        System.err.println("usage: Consumer --url dubbo://[::ffff:127.0.0.1]:PORT [--count N] [--attach k=v]... [--timeout MS] [--name NAME] [--heartbeat MS --pause MS] [--fail-denied]");
        System.exit(2);
    }

    private static int run(String url, int count, int timeout, String name, Map<String, String> attach,
                           int heartbeat, int pause, boolean failDenied) throws InterruptedException {
        // Direct URL: add the interface path and force hessian2 on this side.
        String base = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        String full = base + "/" + GreetingService.class.getName()
                + "?serialization=hessian2&prefer.serialization=hessian2"
                + (heartbeat > 0 ? "&heartbeat=" + heartbeat : "");

        ApplicationConfig app = new ApplicationConfig("metaproto-demo-consumer");
        app.setQosEnable(false);
        app.setShutwait("500");

        MethodConfig oneway = new MethodConfig();
        oneway.setName("notifyOneway");
        oneway.setReturn(false);

        Map<String, String> params = new HashMap<>();
        params.put("serialization", "hessian2");
        params.put("prefer.serialization", "hessian2");
        if (heartbeat > 0) {
            params.put("heartbeat", Integer.toString(heartbeat));
        }

        ReferenceConfig<GreetingService> ref = new ReferenceConfig<>();
        ref.setInterface(GreetingService.class);
        ref.setUrl(full);
        ref.setRetries(0);
        ref.setTimeout(timeout);
        ref.setCheck(true);
        ref.setParameters(params);
        ref.setMethods(Collections.singletonList(oneway));

        DubboBootstrap bootstrap = DubboBootstrap.getInstance()
                .application(app)
                .registry(new RegistryConfig(RegistryConfig.NO_AVAILABLE))
                .reference(ref)
                .start();

        GreetingService svc = ref.get();
        int ok = 0;
        int failed = 0;

        for (int i = 0; i < count; i++) {
            setAttachments(attach);
            System.out.println(svc.sayHello(name));
            ok++;
        }
        if (pause > 0) {
            Thread.sleep(pause);
        }

        setAttachments(attach);
        try {
            svc.fail("boom");
            System.err.println("fail(\"boom\") returned normally");
            return 1;
        } catch (IllegalStateException e) {
            if (failDenied) {
                System.err.println("fail(\"boom\") reached the provider although a policy denies it: " + e);
                return 1;
            }
            System.out.println("EXPECTED FAILURE: " + e.getMessage());
            failed++;
        } catch (RpcException e) {
            if (failDenied && e.getMessage() != null && e.getMessage().contains("denied by MetaProto")) {
                // The proxy's error response: the connection must stay usable for what follows.
                System.out.println("DENIED: " + e.getMessage().replace('\n', ' '));
                failed++;
            } else {
                System.err.println("fail(\"boom\") raised an RpcException instead of the business exception: " + e);
                return 1;
            }
        }

        setAttachments(attach);
        svc.notifyOneway("fire-and-forget from " + name);

        setAttachments(attach);
        KitchenSink sent = KitchenSink.sample();
        KitchenSink got = svc.echo(sent);
        KitchenSink expected;
        try {
            expected = KitchenSink.hessianRoundTrip(sent);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("local hessian round trip failed", e);
        }
        for (String f : sent.diff(expected)) {
            System.err.println("note: hessian-lite changes field " + f + ": "
                    + sent.field(f) + " -> " + expected.field(f));
        }
        List<String> diff = got == null ? List.of("<null result>") : expected.diff(got);
        if (diff.isEmpty()) {
            System.out.println("ECHO OK");
            ok++;
        } else {
            StringBuilder sb = new StringBuilder("ECHO MISMATCH");
            for (String f : diff) {
                sb.append(' ').append(f).append('=').append(expected.field(f)).append("/")
                        .append(got == null ? null : got.field(f));
            }
            System.out.println(sb);
            return 1;
        }

        System.out.println("SUMMARY ok=" + ok + " failed=" + failed + " oneway=1");
        System.out.flush();
        try {
            bootstrap.stop();
        } catch (Throwable ignored) {
            // exiting anyway
        }
        return 0;
    }

    private static void setAttachments(Map<String, String> attach) {
        for (Map.Entry<String, String> e : attach.entrySet()) {
            RpcContext.getClientAttachment().setAttachment(e.getKey(), e.getValue());
        }
    }
}
