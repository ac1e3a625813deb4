#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A stand-in for systemd-logind on the guest's system bus, for mutter (gnome-shell).

The guest runs no systemd: this answers what mutter asks of logind for one local session
("c1", user root, seat "seat0", active): the session's and the seat's properties, and device
access (TakeControl, TakeDevice, ReleaseDevice), opening the device node the major and minor
numbers name. Nothing is ever paused: there is no other session to switch to.

    logind.py          serve org.freedesktop.login1 until killed
"""

import os
import stat
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

BUS_NAME = "org.freedesktop.login1"
ROOT = "/org/freedesktop/login1"
MANAGER = "org.freedesktop.login1.Manager"
SESSION = "org.freedesktop.login1.Session"
SEAT = "org.freedesktop.login1.Seat"
USER = "org.freedesktop.login1.User"
PROPERTIES = "org.freedesktop.DBus.Properties"

SESSION_ID = "c1"
SESSION_PATH = f"{ROOT}/session/{SESSION_ID}"
SEAT_ID = "seat0"
SEAT_PATH = f"{ROOT}/seat/{SEAT_ID}"
USER_PATH = f"{ROOT}/user/_0"


def log(text):
    print(f"logind: {text}", flush=True)


def device_node(major, minor):
    """The device node of character device major:minor under /dev."""
    for folder in ("/dev/dri", "/dev/input", "/dev"):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(major, minor):
                return path
    return None


class Properties(dbus.service.Object):
    """An object with read-only properties of one interface."""

    interface = None

    def props(self):
        return {}

    @dbus.service.method(PROPERTIES, in_signature="ss", out_signature="v")
    def Get(self, interface, name):
        values = self.props()
        if interface != self.interface or name not in values:
            raise dbus.exceptions.DBusException(
                f"no property {interface}.{name}",
                name="org.freedesktop.DBus.Error.UnknownProperty")
        return values[name]

    @dbus.service.method(PROPERTIES, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return self.props() if interface == self.interface else {}

    @dbus.service.method(PROPERTIES, in_signature="ssv")
    def Set(self, interface, name, value):
        raise dbus.exceptions.DBusException(
            f"{interface}.{name} is read-only",
            name="org.freedesktop.DBus.Error.PropertyReadOnly")

    @dbus.service.signal(PROPERTIES, signature="sa{sv}as")
    def PropertiesChanged(self, interface, changed, invalidated):
        pass


class Manager(Properties):
    interface = MANAGER

    def props(self):
        return {"IdleHint": False, "Docked": False, "LidClosed": False,
                "OnExternalPower": True}

    @dbus.service.method(MANAGER, in_signature="u", out_signature="o")
    def GetSessionByPID(self, pid):
        return dbus.ObjectPath(SESSION_PATH)

    @dbus.service.method(MANAGER, in_signature="s", out_signature="o")
    def GetSession(self, session_id):
        if session_id not in (SESSION_ID, "auto", "self"):
            raise dbus.exceptions.DBusException(
                f"no session {session_id}", name="org.freedesktop.login1.NoSuchSession")
        return dbus.ObjectPath(SESSION_PATH)

    @dbus.service.method(MANAGER, in_signature="s", out_signature="o")
    def GetSeat(self, seat_id):
        return dbus.ObjectPath(SEAT_PATH)

    @dbus.service.method(MANAGER, in_signature="u", out_signature="o")
    def GetUser(self, uid):
        return dbus.ObjectPath(USER_PATH)

    @dbus.service.method(MANAGER, in_signature="", out_signature="a(susso)")
    def ListSessions(self):
        return [(SESSION_ID, dbus.UInt32(0), "root", SEAT_ID, dbus.ObjectPath(SESSION_PATH))]

    @dbus.service.method(MANAGER, in_signature="", out_signature="a(so)")
    def ListSeats(self):
        return [(SEAT_ID, dbus.ObjectPath(SEAT_PATH))]

    @dbus.service.method(MANAGER, in_signature="ssss", out_signature="h")
    def Inhibit(self, what, who, why, mode):
        # The inhibitor lasts as long as the caller keeps its end of the pipe.
        read, write = os.pipe()
        os.close(write)
        fd = dbus.types.UnixFd(read)
        os.close(read)
        return fd

    @dbus.service.method(MANAGER, in_signature="", out_signature="s")
    def CanSuspend(self):
        return "na"

    @dbus.service.signal(MANAGER, signature="b")
    def PrepareForSleep(self, start):
        pass

    @dbus.service.signal(MANAGER, signature="b")
    def PrepareForShutdown(self, start):
        pass


class Session(Properties):
    interface = SESSION

    def __init__(self, bus):
        super().__init__(bus, SESSION_PATH)
        self.controller = None
        self.devices = {}

    def props(self):
        return {
            "Id": SESSION_ID, "Name": "root", "Type": "wayland", "Class": "user",
            "State": "active", "Active": True, "Remote": False, "Service": "",
            "Desktop": "GNOME", "Display": "", "TTY": "", "VTNr": dbus.UInt32(0),
            "Leader": dbus.UInt32(os.getppid()), "LockedHint": False, "IdleHint": False,
            "User": (dbus.UInt32(0), dbus.ObjectPath(USER_PATH)),
            "Seat": (SEAT_ID, dbus.ObjectPath(SEAT_PATH)),
        }

    @dbus.service.method(SESSION, in_signature="b", sender_keyword="sender")
    def TakeControl(self, force, sender=None):
        if self.controller not in (None, sender) and not force:
            raise dbus.exceptions.DBusException(
                "the session has a controller", name="org.freedesktop.login1.DeviceIsTaken")
        self.controller = sender
        log(f"session controlled by {sender}")

    @dbus.service.method(SESSION, in_signature="", sender_keyword="sender")
    def ReleaseControl(self, sender=None):
        if sender == self.controller:
            self.controller = None
            for fd in self.devices.values():
                os.close(fd)
            self.devices.clear()

    @dbus.service.method(SESSION, in_signature="uu", out_signature="hb",
                         sender_keyword="sender")
    def TakeDevice(self, major, minor, sender=None):
        if sender != self.controller:
            raise dbus.exceptions.DBusException(
                "not the session's controller", name="org.freedesktop.login1.NotInControl")
        path = device_node(major, minor)
        if path is None:
            raise dbus.exceptions.DBusException(
                f"no device node {major}:{minor}",
                name="org.freedesktop.DBus.Error.FileNotFound")
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK)
        self.devices[(major, minor)] = fd
        log(f"device {major}:{minor} ({path}) taken")
        return dbus.types.UnixFd(fd), False

    @dbus.service.method(SESSION, in_signature="uu", sender_keyword="sender")
    def ReleaseDevice(self, major, minor, sender=None):
        fd = self.devices.pop((major, minor), None)
        if fd is not None:
            os.close(fd)
            log(f"device {major}:{minor} released")

    @dbus.service.method(SESSION, in_signature="uu")
    def PauseDeviceComplete(self, major, minor):
        pass

    @dbus.service.method(SESSION, in_signature="")
    def Activate(self):
        pass

    @dbus.service.method(SESSION, in_signature="s")
    def SetType(self, kind):
        pass

    @dbus.service.method(SESSION, in_signature="b")
    def SetLockedHint(self, locked):
        pass

    @dbus.service.method(SESSION, in_signature="b")
    def SetIdleHint(self, idle):
        pass

    @dbus.service.method(SESSION, in_signature="ssu")
    def SetBrightness(self, subsystem, name, value):
        pass

    @dbus.service.signal(SESSION, signature="uus")
    def PauseDevice(self, major, minor, kind):
        pass

    @dbus.service.signal(SESSION, signature="uuh")
    def ResumeDevice(self, major, minor, fd):
        pass

    @dbus.service.signal(SESSION, signature="")
    def Lock(self):
        pass

    @dbus.service.signal(SESSION, signature="")
    def Unlock(self):
        pass


class Seat(Properties):
    interface = SEAT

    def props(self):
        session = (SESSION_ID, dbus.ObjectPath(SESSION_PATH))
        return {"Id": SEAT_ID, "ActiveSession": session, "Sessions": [session],
                "CanGraphical": True, "CanTTY": False, "IdleHint": False}

    @dbus.service.method(SEAT, in_signature="u")
    def SwitchTo(self, vt):
        pass


class User(Properties):
    interface = USER

    def props(self):
        session = (SESSION_ID, dbus.ObjectPath(SESSION_PATH))
        return {"UID": dbus.UInt32(0), "GID": dbus.UInt32(0), "Name": "root",
                "State": "active", "Display": session, "Sessions": [session],
                "RuntimePath": os.environ.get("XDG_RUNTIME_DIR", "/run/user/0")}


def main():
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()
    keep = [Manager(bus, ROOT), Session(bus), Seat(bus, SEAT_PATH), User(bus, USER_PATH)]
    name = dbus.service.BusName(BUS_NAME, bus)
    log(f"serving {BUS_NAME}: session {SESSION_ID} on {SEAT_ID}")
    GLib.MainLoop().run()
    del keep, name
    return 0


if __name__ == "__main__":
    sys.exit(main())
