package com.example.greeting;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/** The answer: a resource packed into the jar, and the Java version that runs it. */
final class Greeting {
    private Greeting() {}

    static String text() throws IOException {
        try (InputStream in = Greeting.class.getResourceAsStream("/greeting.txt")) {
            String greeting = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
            return greeting + " on Java " + Runtime.version().feature() + "\n";
        }
    }
}
