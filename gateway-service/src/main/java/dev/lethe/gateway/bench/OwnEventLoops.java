package dev.lethe.gateway.bench;

import org.springframework.context.ApplicationContextInitializer;
import org.springframework.context.support.GenericApplicationContext;
import org.springframework.http.client.ReactorResourceFactory;

/**
 * Gives a gateway started in a JVM that runs more than one (the load generator's, or a test's) event
 * loops of its own. Reactor Netty's are global by default, and closing one gateway would shut them down
 * under the others. An initializer rather than a configuration class, so that component scanning of
 * {@code dev.lethe.gateway} never picks it up for an ordinary gateway.
 */
public final class OwnEventLoops implements ApplicationContextInitializer<GenericApplicationContext> {

    @Override
    public void initialize(GenericApplicationContext context) {
        context.registerBean("reactorResourceFactory", ReactorResourceFactory.class, () -> {
            ReactorResourceFactory factory = new ReactorResourceFactory();
            factory.setUseGlobalResources(false);
            return factory;
        });
    }
}
