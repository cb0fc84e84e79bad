package io.metaproto.demo;

import java.io.Serializable;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One object whose hessian2 encoding uses every value form a Dubbo codec must
 * skip or decode. Field order (declaration order) is the order hessian-lite
 * writes them in. Comments give the Hessian 2 byte form expected.
 */
public class KitchenSink implements Serializable {
    private static final long serialVersionUID = 1L;

    // null
    private String nullString;                 // 'N'
    private Object nullObject;                 // 'N'
    // boolean
    private boolean yes;                       // 'T'
    private boolean no;                        // 'F'
    // int: 1 byte [-16,47], 2 bytes [-2048,2047], 3 bytes [-262144,262143], else 'I' + 4
    private int i0;
    private int iMinus16;
    private int i47;
    private int i48;
    private int iMinus17;
    private int i2047;
    private int iMinus2048;
    private int i2048;
    private int iMinus2049;
    private int i262143;
    private int iMinus262144;
    private int i262144;
    private int iMinus262145;
    private int iMax;
    private int iMin;
    // byte/short/char (written as int / 1-char string)
    private byte b;
    private short s;
    private char c;
    // long: 1 byte [-8,15], 2 bytes [-2048,2047], 3 bytes [-262144,262143], 'Y' int32, 'L' int64
    private long l0;
    private long l15;
    private long lMinus8;
    private long l16;
    private long l2047;
    private long l2048;
    private long l262143;
    private long l262144;
    private long l2147483647;
    private long lMinus2147483648;
    private long l2147483648;
    private long lMax;
    private long lMin;
    // double: 0x5b zero, 0x5c one, 0x5d byte, 0x5e short, 0x5f int32 "mills", 'D' 64-bit
    private double d0;
    private double d1;
    private double d127;
    private double d32767;
    private double d1_5;
    private double dPi;
    private double dMinus128;
    // float: hessian-lite writes a float field as a double
    private float f1_25;
    // Boxed
    private Integer boxedInt;
    private Long boxedLong;
    private Double boxedDouble;
    private Boolean boxedBool;
    // dates: 0x4a millis, 0x4b minutes (when millis % 60000 == 0)
    private Date dateMillis;
    private Date dateMinutes;
    // strings: 0x00-0x1f (<32), 0x30-0x33 (<1024), 'S' final, 'R' chunks (>32768 units)
    private String empty;
    private String shortString;
    private String s31;
    private String s32;
    private String s1000;
    private String s1024;
    private String chunked;
    private String nonBmp;
    // binary: 0x20-0x2f (<16), 0x34-0x37 (<1024), 'B' final, 'A' chunks
    private byte[] bytesShort;
    private byte[] bytesMedium;
    private byte[] bytesLarge;
    private byte[] bytesEmpty;
    // collections
    private List<String> list;
    private int[] ints;
    private Map<String, Object> map;
    private Color color;
    // objects: class def 'C' once, then 0x60+ instances; same instance twice => 0x51 ref
    private Inner inner;
    private Inner sameA;
    private Inner sameB;
    private Inner other;

    public KitchenSink() {}

    public static KitchenSink sample() {
        KitchenSink k = new KitchenSink();
        k.nullString = null;
        k.nullObject = null;
        k.yes = true;
        k.no = false;
        k.i0 = 0;
        k.iMinus16 = -16;
        k.i47 = 47;
        k.i48 = 48;
        k.iMinus17 = -17;
        k.i2047 = 2047;
        k.iMinus2048 = -2048;
        k.i2048 = 2048;
        k.iMinus2049 = -2049;
        k.i262143 = 262143;
        k.iMinus262144 = -262144;
        k.i262144 = 262144;
        k.iMinus262145 = -262145;
        k.iMax = Integer.MAX_VALUE;
        k.iMin = Integer.MIN_VALUE;
        k.b = (byte) -7;
        k.s = (short) 30000;
        k.c = 'Z';
        k.l0 = 0L;
        k.l15 = 15L;
        k.lMinus8 = -8L;
        k.l16 = 16L;
        k.l2047 = 2047L;
        k.l2048 = 2048L;
        k.l262143 = 262143L;
        k.l262144 = 262144L;
        k.l2147483647 = 2147483647L;
        k.lMinus2147483648 = -2147483648L;
        k.l2147483648 = 2147483648L;
        k.lMax = Long.MAX_VALUE;
        k.lMin = Long.MIN_VALUE;
        k.d0 = 0.0;
        k.d1 = 1.0;
        k.d127 = 127.0;
        k.d32767 = 32767.0;
        k.d1_5 = 1.5;
        k.dPi = 3.141592653589793;
        k.dMinus128 = -128.0;
        k.f1_25 = 1.25f;
        k.boxedInt = 123456;
        k.boxedLong = -5L;
        k.boxedDouble = 2.5;
        k.boxedBool = Boolean.TRUE;
        k.dateMillis = new Date(1700000000123L);
        k.dateMinutes = new Date(1700000040000L);
        k.empty = "";
        k.shortString = "hi";
        k.s31 = repeat('a', 31);
        k.s32 = repeat('b', 32);
        k.s1000 = repeat('c', 1000);
        k.s1024 = repeat('d', 1024);
        k.chunked = pattern(40000);
        // 'é' (2-byte UTF-8), '€' (3-byte), U+1F600 and U+1F680 (surrogate pairs)
        k.nonBmp = "h\u00e9\u20ac\uD83D\uDE00x\uD83D\uDE80";
        k.bytesShort = new byte[] {0, 1, 2, (byte) 0xff, (byte) 0xda, (byte) 0xbb};
        k.bytesMedium = bytes(500);
        k.bytesLarge = bytes(20000);
        k.bytesEmpty = new byte[0];
        k.list = new ArrayList<>(Arrays.asList("alpha", "beta", "gamma"));
        k.ints = new int[] {1, -1, 1000, 100000, Integer.MAX_VALUE};
        HashMap<String, Object> m = new HashMap<>();
        m.put("str", "v");
        m.put("int", 7);
        m.put("long", 9000000000L);
        m.put("double", 0.25);
        m.put("bool", false);
        m.put("nil", null);
        m.put("list", new ArrayList<>(Arrays.asList("x", "y")));
        HashMap<String, Object> nested = new HashMap<>();
        nested.put("deep", "yes");
        nested.put("n", 42);
        m.put("map", nested);
        k.map = m;
        k.color = Color.GREEN;
        k.inner = new Inner("first", 1);
        Inner shared = new Inner("shared", 2);
        k.sameA = shared;
        k.sameB = shared;
        k.other = new Inner("other", 3);
        return k;
    }

    private static String repeat(char ch, int n) {
        char[] a = new char[n];
        Arrays.fill(a, ch);
        return new String(a);
    }

    private static String pattern(int n) {
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            sb.append((char) ('A' + (i % 26)));
        }
        return sb.toString();
    }

    private static byte[] bytes(int n) {
        byte[] a = new byte[n];
        for (int i = 0; i < n; i++) {
            a[i] = (byte) (i * 31 + 7);
        }
        return a;
    }

    /**
     * The object after a local hessian-lite round trip. hessian-lite normalises
     * some values (e.g. it writes a float field as a double and reads it back
     * differently), so an echo is compared against this, not against the original.
     */
    public static KitchenSink hessianRoundTrip(KitchenSink k) throws java.io.IOException {
        java.io.ByteArrayOutputStream bos = new java.io.ByteArrayOutputStream();
        com.alibaba.com.caucho.hessian.io.Hessian2Output out =
                new com.alibaba.com.caucho.hessian.io.Hessian2Output(bos);
        out.writeObject(k);
        out.flush();
        com.alibaba.com.caucho.hessian.io.Hessian2Input in =
                new com.alibaba.com.caucho.hessian.io.Hessian2Input(
                        new java.io.ByteArrayInputStream(bos.toByteArray()));
        return (KitchenSink) in.readObject(KitchenSink.class);
    }

    /** Value of a field by name (for diagnostics). */
    public Object field(String name) {
        try {
            Field f = KitchenSink.class.getDeclaredField(name);
            return f.get(this);
        } catch (ReflectiveOperationException e) {
            return "<" + e + ">";
        }
    }

    /** Names of fields that differ (deep comparison), plus "sameA!=sameB" if the shared ref was lost. */
    public List<String> diff(KitchenSink o) {
        List<String> out = new ArrayList<>();
        for (Field f : KitchenSink.class.getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers())) {
                continue;
            }
            try {
                if (!Objects.deepEquals(f.get(this), f.get(o))) {
                    out.add(f.getName());
                }
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        }
        if ((sameA == sameB) != (o.sameA == o.sameB)) {
            out.add("sameA!=sameB");
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KitchenSink && diff((KitchenSink) o).isEmpty();
    }

    @Override
    public int hashCode() {
        return Objects.hash(shortString, iMax, lMax);
    }
}
