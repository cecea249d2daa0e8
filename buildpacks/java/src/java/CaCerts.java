import java.io.BufferedInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;

/**
 * kiln/java's trust store maker: the PEM bundle args[0] (the build rootfs's
 * ca-certificates.crt) as the PKCS12 store args[1] with the JDK's usual password "changeit".
 * Run with -Dkeystore.pkcs12.certProtectionAlgorithm=NONE -Dkeystore.pkcs12.macAlgorithm=NONE,
 * the store has no random salt: the same bundle gives the same bytes. Exit 3: no bundle.
 */
public class CaCerts {
    public static void main(String[] args) throws Exception {
        Path bundle = Path.of(args[0]);
        if (!Files.isReadable(bundle)) {
            System.err.println("no CA bundle at " + bundle);
            System.exit(3);
        }
        Collection<? extends Certificate> certs;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(bundle))) {
            certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
        }
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        int count = 0;
        for (Certificate cert : certs) {
            store.setCertificateEntry(String.format("kiln-ca-%04d", count++), cert);
        }
        try (OutputStream out = Files.newOutputStream(Path.of(args[1]))) {
            store.store(out, "changeit".toCharArray());
        }
        System.out.println(count + " certificates from " + bundle + " in " + args[1]);
    }
}
