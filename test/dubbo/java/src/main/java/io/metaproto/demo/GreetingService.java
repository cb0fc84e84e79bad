package io.metaproto.demo;

/** The demo service both Java peers and the npm client speak. */
public interface GreetingService {
    /** Returns "Hello " + name + ", response from " + provider's local host:port. */
    String sayHello(String name);

    /** Always throws IllegalStateException(why) on the provider. */
    String fail(String why);

    /** Configured oneway (return=false) on both sides. */
    void notifyOneway(String msg);

    /** Returns its argument (hessian2 round trip of every value form). */
    KitchenSink echo(KitchenSink k);
}
