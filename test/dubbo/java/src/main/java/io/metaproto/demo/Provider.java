package io.metaproto.demo;

import java.util.Collections;
import java.util.concurrent.CountDownLatch;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.MethodConfig;
import org.apache.dubbo.config.ProtocolConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.ServiceConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;

/**
 * Real Apache Dubbo provider: GreetingService on the dubbo protocol, hessian2,
 * no registry. Usage: Provider [PORT]   (default: env DUBBO_PORT, else 20880).
 * Bind loopback with env DUBBO_IP_TO_BIND=::ffff:127.0.0.1 and
 * -Djava.net.preferIPv4Stack=true (run.sh does both). Prints
 * "PROVIDER READY <port>" once exported; runs until SIGTERM.
 */
public final class Provider {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args.length > 0 ? args[0]
                : System.getenv().getOrDefault("DUBBO_PORT", "20880"));
        // Short graceful shutdown (default 10 s).
        System.setProperty("dubbo.service.shutdown.wait", System.getProperty("dubbo.service.shutdown.wait", "500"));

        ApplicationConfig app = new ApplicationConfig("metaproto-demo-provider");
        app.setQosEnable(false);
        app.setShutwait("500");

        ProtocolConfig protocol = new ProtocolConfig("dubbo", port);
        protocol.setSerialization("hessian2");
        protocol.setPreferSerialization("hessian2");

        MethodConfig oneway = new MethodConfig();
        oneway.setName("notifyOneway");
        oneway.setReturn(false);

        ServiceConfig<GreetingService> service = new ServiceConfig<>();
        service.setInterface(GreetingService.class);
        service.setRef(new GreetingServiceImpl());
        service.setMethods(Collections.singletonList(oneway));

        DubboBootstrap.getInstance()
                .application(app)
                .registry(new RegistryConfig(RegistryConfig.NO_AVAILABLE))
                .protocol(protocol)
                .service(service)
                .start();

        System.out.println("PROVIDER READY " + port);
        System.out.flush();

        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(done::countDown, "provider-exit"));
        done.await();
    }
}
